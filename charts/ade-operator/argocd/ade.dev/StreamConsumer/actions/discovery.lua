local actions = {}
actions["restart"] = {["iconClass"] = "fa fa-fw fa-redo", ["displayName"] = "Restart the consumer pods (shards are handed over at their checkpoints)"}
return actions

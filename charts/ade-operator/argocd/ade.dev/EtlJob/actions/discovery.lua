local actions = {}
local suspended = obj.spec.suspend == true
actions["suspend"] = {["disabled"] = suspended, ["iconClass"] = "fa fa-fw fa-pause", ["displayName"] = "Suspend: create no new runs"}
actions["resume"] = {["disabled"] = not suspended, ["iconClass"] = "fa fa-fw fa-play", ["displayName"] = "Resume"}
return actions

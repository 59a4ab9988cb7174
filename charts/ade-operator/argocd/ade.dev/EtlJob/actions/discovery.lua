local actions = {}
local suspended = obj.spec.suspend == true
actions["suspend"] = {["disabled"] = suspended, ["iconClass"] = "fa fa-fw fa-pause", ["displayName"] = "Suspend: create no new runs"}
actions["resume"] = {["disabled"] = not suspended, ["iconClass"] = "fa fa-fw fa-play", ["displayName"] = "Resume"}
local current = obj.status ~= nil and obj.status.currentBatch or nil
local label = "Run the current batch now"
if current ~= nil then label = "Run the current batch (" .. current .. ") now" end
actions["run-now"] = {["disabled"] = current == nil, ["iconClass"] = "fa fa-fw fa-bolt", ["displayName"] = label}
return actions

local actions = {}
local phase = nil
if obj.status ~= nil then phase = obj.status.phase end
local final = phase == "Succeeded" or phase == "Failed" or phase == "Cancelled"
actions["cancel"] = {["disabled"] = final or obj.spec.cancel == true, ["iconClass"] = "fa fa-fw fa-stop", ["displayName"] = "Cancel the run"}
actions["rerun"] = {["disabled"] = not final, ["iconClass"] = "fa fa-fw fa-redo", ["displayName"] = "Rerun this batch"}
return actions

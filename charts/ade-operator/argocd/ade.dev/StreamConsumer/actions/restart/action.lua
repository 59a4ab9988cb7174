-- Stamps the StreamConsumer; the operator copies the stamp onto its
-- Deployment's pod template, which rolls the pods one by one.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ade.dev/restartedAt"] = os.date("!%Y-%m-%dT%XZ")
return obj

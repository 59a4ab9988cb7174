-- A new EtlRun for the same batch (reason rerun); the operator derives its
-- window from the batch id and runs it once no other run of the batch is live.
-- It keeps the run's owner (its EtlJob, for runs the operator created) and
-- job and pool labels, so Argo CD shows it under the job and it goes with it.
local os = require("os")
local run = {}
run.apiVersion = obj.apiVersion
run.kind = "EtlRun"
run.metadata = {}
run.metadata.name = obj.metadata.name .. "-rerun-" .. os.date("!%y%m%d%H%M%S")
run.metadata.namespace = obj.metadata.namespace
if obj.metadata.ownerReferences ~= nil then
  run.metadata.ownerReferences = obj.metadata.ownerReferences
end
if obj.metadata.labels ~= nil then
  local labels = {}
  for _, key in ipairs({"ade.dev/job", "ade.dev/pool"}) do
    if obj.metadata.labels[key] ~= nil then labels[key] = obj.metadata.labels[key] end
  end
  if next(labels) ~= nil then run.metadata.labels = labels end
end
run.spec = {}
run.spec.jobRef = {}
run.spec.jobRef.name = obj.spec.jobRef.name
run.spec.batchId = obj.spec.batchId
run.spec.reason = "rerun"
local created = {}
created.operation = "create"
created.resource = run
local result = {}
result[1] = created
return result

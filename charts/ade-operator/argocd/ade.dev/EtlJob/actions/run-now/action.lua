-- Runs the job's current batch now: a new EtlRun (reason manual) for the
-- batch the operator names in status.currentBatch (the schedule's newest due
-- batch, suspended or not). The operator takes its window from the batch id
-- and runs it once no other run of the batch is live; rerunning a batch
-- replaces its output. Owned by the job and labelled like the runs the
-- operator creates, so Argo CD shows it under the job and it goes with it.
if obj.status == nil or obj.status.currentBatch == nil then
  error("this EtlJob names no current batch (status.currentBatch): it has no schedule, or no tick yet", 0)
end
local os = require("os")
local run = {}
run.apiVersion = "ade.dev/v1alpha1"
run.kind = "EtlRun"
run.metadata = {}
run.metadata.name = obj.metadata.name .. "-now-" .. os.date("!%y%m%d%H%M%S")
run.metadata.namespace = obj.metadata.namespace
-- Label values hold 63 characters; a longer name (the operator shortens it)
-- is left out rather than guessed.
local labels = {}
if #obj.metadata.name <= 63 then labels["ade.dev/job"] = obj.metadata.name end
if #obj.spec.poolRef.name <= 63 then labels["ade.dev/pool"] = obj.spec.poolRef.name end
if next(labels) ~= nil then run.metadata.labels = labels end
run.metadata.ownerReferences = {}
run.metadata.ownerReferences[1] = {
  apiVersion = obj.apiVersion,
  kind = obj.kind,
  name = obj.metadata.name,
  uid = obj.metadata.uid,
  controller = true,
  blockOwnerDeletion = true,
}
run.spec = {}
run.spec.jobRef = {}
run.spec.jobRef.name = obj.metadata.name
run.spec.batchId = obj.status.currentBatch
run.spec.reason = "manual"
local created = {}
created.operation = "create"
created.resource = run
local result = {}
result[1] = created
return result

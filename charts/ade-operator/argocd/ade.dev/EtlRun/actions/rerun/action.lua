-- A new EtlRun for the same batch (reason rerun); the operator derives its
-- window from the batch id and runs it once no other run of the batch is live.
local os = require("os")
local run = {}
run.apiVersion = obj.apiVersion
run.kind = "EtlRun"
run.metadata = {}
run.metadata.name = obj.metadata.name .. "-rerun-" .. os.date("!%y%m%d%H%M%S")
run.metadata.namespace = obj.metadata.namespace
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

-- Argo CD health of an ade.dev ValidationSuite (base and table libraries only).
local hs = {}
local function condition(t)
  if obj.status == nil or obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then return c end
  end
  return nil
end
local function says(c)
  if c.message ~= nil and c.message ~= "" then return c.message end
  return tostring(c.reason)
end
if obj.status == nil or obj.status.observedGeneration == nil
    or (obj.metadata.generation ~= nil and obj.status.observedGeneration < obj.metadata.generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the ADE operator to read this ValidationSuite's spec"
  return hs
end
local accepted = condition("Accepted")
if accepted ~= nil and accepted.status == "False" then
  hs.status = "Degraded"
  hs.message = "The spec is not valid (" .. tostring(accepted.reason) .. "): " .. says(accepted)
  return hs
end
local ready = condition("Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = "Not ready (" .. tostring(ready.reason) .. "): " .. says(ready)
  return hs
end
local healthy = condition("Healthy")
if healthy ~= nil and healthy.status == "False" then
  hs.status = "Degraded"
  hs.message = tostring(healthy.reason) .. ": " .. says(healthy)
  return hs
end
if obj.status.active ~= nil and obj.status.active.batchId ~= nil then
  hs.status = "Progressing"
  hs.message = "Validating batch " .. tostring(obj.status.active.batchId)
  return hs
end
hs.status = "Healthy"
if healthy ~= nil then
  hs.message = says(healthy)
elseif obj.status.lastRun == nil then
  hs.message = "No batch validated yet"
else
  hs.message = "Batch " .. tostring(obj.status.lastRun.batchId) .. " passed"
end
return hs

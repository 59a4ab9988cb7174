-- Argo CD health of an ade.dev StreamConsumer (base and table libraries only).
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
  hs.message = "Waiting for the ADE operator to read this StreamConsumer's spec"
  return hs
end
local accepted = condition("Accepted")
if accepted ~= nil and accepted.status == "False" then
  hs.status = "Degraded"
  hs.message = "The spec is not valid (" .. tostring(accepted.reason) .. "): " .. says(accepted)
  return hs
end
local degraded = condition("Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = tostring(degraded.reason) .. ": " .. says(degraded)
  return hs
end
local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = says(ready)
  return hs
end
hs.status = "Progressing"
if ready ~= nil then
  hs.message = "Not ready yet (" .. tostring(ready.reason) .. "): " .. says(ready)
else
  hs.message = "Waiting for the consumer pods to take their shards"
end
return hs

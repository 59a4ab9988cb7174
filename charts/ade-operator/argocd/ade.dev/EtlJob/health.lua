-- Argo CD health of an ade.dev EtlJob (base and table libraries only: the
-- argocd-cm sandbox has no string library).
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
  hs.message = "Waiting for the ADE operator to read this EtlJob's spec"
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
for _, t in ipairs({"Quarantined", "Held", "Degraded", "OverBudget", "Late"}) do
  local c = condition(t)
  if c ~= nil and c.status == "True" then
    hs.status = "Degraded"
    if t == "Degraded" then
      hs.message = says(c)
    else
      hs.message = t .. ": " .. says(c)
    end
    return hs
  end
end
if obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Suspended: no new runs are created (resume with the resume action)"
  return hs
end
local progressing = condition("Progressing")
if progressing ~= nil and progressing.status == "True" then
  hs.status = "Progressing"
  hs.message = says(progressing)
  return hs
end
hs.status = "Healthy"
if ready ~= nil then
  hs.message = says(ready)
else
  hs.message = "Ready"
end
return hs

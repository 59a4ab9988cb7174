-- Argo CD health of an ade.dev ClusterPool (base and table libraries only).
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
  hs.message = "Waiting for the ADE operator to read this ClusterPool's spec"
  return hs
end
local accepted = condition("Accepted")
if accepted ~= nil and accepted.status == "False" then
  hs.status = "Degraded"
  hs.message = "The spec is not valid (" .. tostring(accepted.reason) .. "): " .. says(accepted)
  return hs
end
local breaker = obj.status.breaker
if breaker ~= nil and breaker.state == "Open" then
  hs.status = "Degraded"
  hs.message = "Spot interruption breaker open, new clusters are on-demand: " .. tostring(breaker.message)
  return hs
end
local ready = condition("Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = "Not ready (" .. tostring(ready.reason) .. "): " .. says(ready)
  return hs
end
local requests = obj.status.clusterRequests
local starting = 0
if obj.status.clusters ~= nil then
  for _, c in ipairs(obj.status.clusters) do
    if c.state == "STARTING" or c.state == "BOOTSTRAPPING" then starting = starting + 1 end
  end
end
if requests ~= nil then starting = starting + #requests end
if starting > 0 then
  hs.status = "Progressing"
  hs.message = tostring(starting) .. " cluster(s) starting; " .. tostring(obj.status.queuedRuns or 0) .. " run(s) queued"
  return hs
end
hs.status = "Healthy"
if ready ~= nil then hs.message = says(ready) else hs.message = "Ready" end
return hs

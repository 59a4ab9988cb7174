-- Argo CD health of an ade.dev EtlRun, by phase (base and table libraries only).
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
local function last_attempt_message()
  local attempts = obj.status.attempts
  if attempts == nil or #attempts == 0 then return "no attempt recorded" end
  local a = attempts[#attempts]
  if a.message ~= nil and a.message ~= "" then return a.message end
  return "attempt " .. tostring(a.attempt) .. " " .. tostring(a.outcome)
end
local batch = tostring(obj.spec.batchId)
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Batch " .. batch .. ": waiting for the ADE operator"
  return hs
end
local phase = obj.status.phase
local accepted = condition("Accepted")
if accepted ~= nil and accepted.status == "False" then
  hs.status = "Degraded"
  hs.message = "Batch " .. batch .. ": the spec is not valid (" .. tostring(accepted.reason) .. "): " .. says(accepted)
  return hs
end
if phase == "Succeeded" then
  local q = condition("Quarantined")
  if q ~= nil and q.status == "True" then
    hs.status = "Degraded"
    hs.message = "Batch " .. batch .. " is quarantined: " .. says(q)
    return hs
  end
  hs.status = "Healthy"
  hs.message = "Batch " .. batch .. " succeeded"
  return hs
end
if phase == "Failed" then
  hs.status = "Degraded"
  hs.message = "Batch " .. batch .. " failed: " .. last_attempt_message()
  return hs
end
if phase == "Cancelled" then
  hs.status = "Suspended"
  hs.message = "Batch " .. batch .. " was cancelled: " .. last_attempt_message()
  return hs
end
-- Pending, Provisioning, Running: say why it waits, when it does
hs.status = "Progressing"
local scheduled = condition("Scheduled")
if phase == "Pending" and scheduled ~= nil and scheduled.status == "False" then
  hs.message = "Batch " .. batch .. " waits (" .. tostring(scheduled.reason) .. "): " .. says(scheduled)
else
  hs.message = "Batch " .. batch .. " is " .. phase
  local attempts = obj.status.attempts
  if attempts ~= nil and #attempts > 1 then
    local last = attempts[#attempts - 1]
    hs.message = hs.message .. " (attempt " .. tostring(#attempts) .. "; the last one ended " .. tostring(last.outcome) .. ")"
  end
end
return hs

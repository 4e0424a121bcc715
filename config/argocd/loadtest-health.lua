-- Argo CD health check for DiLO's LoadTests (group example.org, kind LoadTest), read
-- from the status the manager writes:
--   not yet seen by the manager (no status, or a spec edit it has not acted on)
--                        Progressing  waiting for the controller
--   pending              Progressing  the Queued condition's message while queued,
--                                     else how many pods it starts
--   executing            Progressing  elapsed time, requests and p99 so far
--   finished             Healthy      requests and p99 of the results
--   failed               Degraded     the Failed condition's reason and message
-- Argo CD runs custom health checks with Lua's base and table libraries only (no
-- string or math library), so this script formats with tostring and .. alone.

-- condition returns the condition of type t in conditions, or nil.
local function condition(conditions, t)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

-- count says n things, singular or plural: "1 pod", "4 pods".
local function count(n, thing)
  if n == 1 then
    return "1 " .. thing
  end
  return tostring(n) .. " " .. thing .. "s"
end

-- duration writes whole seconds as Go (and kubectl) write durations: 42s, 1m30s, 2h0m5s.
local function duration(seconds)
  local s = seconds % 60
  local m = ((seconds - s) / 60) % 60
  local h = (seconds - s - m * 60) / 3600
  if h > 0 then
    return h .. "h" .. m .. "m" .. s .. "s"
  end
  if m > 0 then
    return m .. "m" .. s .. "s"
  end
  return s .. "s"
end

-- figures lists what a progress or results block holds: requests and p99, and, for
-- progress, the time elapsed first.
local function figures(f, withElapsed)
  local parts = {}
  if withElapsed and f.elapsedSeconds ~= nil then
    table.insert(parts, duration(f.elapsedSeconds) .. " elapsed")
  end
  if f.requests ~= nil then
    table.insert(parts, count(f.requests, "request"))
  end
  if f.latency ~= nil and f.latency.p99 ~= nil then
    table.insert(parts, "p99 " .. f.latency.p99)
  end
  return table.concat(parts, ", ")
end

-- health returns the LoadTest's health, as Argo CD wants it: a status and a message.
local function health(lt)
  local status = lt.status
  local generation = lt.metadata.generation or 0
  if status == nil or status.state == nil or (status.observedGeneration or 0) < generation then
    return "Progressing", "waiting for the controller"
  end

  local state = status.state
  if state == "pending" then
    local queued = condition(status.conditions, "Queued")
    if queued ~= nil and queued.status == "True" and queued.message ~= nil and queued.message ~= "" then
      return "Progressing", queued.message
    end
    return "Progressing", "pending: starting " .. count(lt.spec.replicas or 0, "pod")
  end

  if state == "executing" then
    local progress = status.progress
    if progress ~= nil then
      local f = figures(progress, true)
      if f ~= "" then
        return "Progressing", "executing: " .. f
      end
    end
    return "Progressing", "executing: " .. count(lt.spec.replicas or 0, "pod") .. ", no progress yet"
  end

  if state == "finished" then
    if status.results ~= nil then
      local f = figures(status.results, false)
      if f ~= "" then
        return "Healthy", "finished: " .. f
      end
    end
    return "Healthy", "finished"
  end

  if state == "failed" then
    local failed = condition(status.conditions, "Failed")
    if failed == nil then
      return "Degraded", "failed"
    end
    local reason = failed.reason or "Failed"
    if failed.message == nil or failed.message == "" then
      return "Degraded", reason
    end
    return "Degraded", reason .. ": " .. failed.message
  end

  return "Unknown", "unknown state " .. tostring(state)
end

local hs = {}
hs.status, hs.message = health(obj)
return hs

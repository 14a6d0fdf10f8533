--[[
  Included (see scripts.ts) by every script on one task's own keys (one hash tag, so one slot on a cluster), in this order:
  KEYS[1] task hash   KEYS[2] items hash (index -> state JSON)   KEYS[3] specs hash   KEYS[4] secrets hash
  KEYS[5] the task's events stream (its name is also the channel that announces new entries)
  The project's side (its indexes and backlog) is another slot: the caller brings it in step with what these
  scripts answer (projectTask.lua).
]]

local function isTerminal(s)
  return s == 'success' or s == 'failed' or s == 'canceled'
end

-- A task that has not ended (false for a task that is gone).
local function isOpen(taskStatus)
  return taskStatus == 'Pending' or taskStatus == 'Running'
end

-- An event for live views: an entry in the task's stream, announced on the channel of the same name.
local function taskEvent(kind, index)
  if index then
    redis.call('XADD', KEYS[5], '*', 'type', kind, 'index', index)
  else
    redis.call('XADD', KEYS[5], '*', 'type', kind)
  end
  redis.call('PUBLISH', KEYS[5], kind)
end

-- Items of the task not yet terminal, its total and its failed items.
local function remainingItems()
  local t = redis.call('HMGET', KEYS[1], 'total', 'succeeded', 'failed', 'canceled')
  local total, bad = tonumber(t[1]), tonumber(t[3]) or 0
  return total - (tonumber(t[2]) or 0) - bad - (tonumber(t[4]) or 0), total, bad
end

-- The task has ended as `final`: retention (the task's own, if it has one) counts from now for every key of the
-- task, its secrets are deleted, waiters are told. Returns what the project's side needs:
-- { seconds kept, 1 if a callback is due else 0, its Idempotency-Key or false }.
local function endTask(now, retention, final, message, channel)
  local keep = retention
  local own = redis.call('HGET', KEYS[1], 'retention')
  if own then keep = math.min(retention, tonumber(own)) end
  redis.call('HSET', KEYS[1], 'status', final, 'finished_at', now, 'message', message, 'running', 0)
  redis.call('DEL', KEYS[4])
  taskEvent('end')
  for _, i in ipairs({ 1, 2, 3, 5 }) do redis.call('EXPIRE', KEYS[i], keep) end
  redis.call('PUBLISH', channel, ARGV[1])
  local f = redis.call('HMGET', KEYS[1], 'callback', 'idem')
  return { keep, f[1] and 1 or 0, f[2] or false }
end

-- HSET of many fields, in slices (Lua's unpack has a limit far below the largest batch).
local function hsetMany(key, pairs)
  for i = 1, #pairs, 1000 do
    redis.call('HSET', key, unpack(pairs, i, math.min(i + 999, #pairs)))
  end
end

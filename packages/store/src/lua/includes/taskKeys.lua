--[[
  Included (see scripts.ts) by every script that takes a task's fourteen keys, in this order:
  KEYS[1] task hash   KEYS[2] items hash (index -> state JSON)   KEYS[3] specs hash   KEYS[4] secrets hash
  KEYS[5] project index Pending   KEYS[6] project index Running   KEYS[7] project index Succeeded
  KEYS[8] project index Failed    KEYS[9] project index Canceled  KEYS[10] project unfinished-items counter
  KEYS[11] open tasks (all projects)   KEYS[12] project ended-times (score = end ms)
  KEYS[13] the task's events stream (its name is also the channel that announces new entries)
  KEYS[14] callbacks due (all projects; score = end ms): ended tasks whose callback_url a worker is to call
]]

-- The backlog counter only guards the submission limit; if it ever drifts, it heals within a day of quiet.
local COUNTER_TTL = 86400

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
    redis.call('XADD', KEYS[13], '*', 'type', kind, 'index', index)
  else
    redis.call('XADD', KEYS[13], '*', 'type', kind)
  end
  redis.call('PUBLISH', KEYS[13], kind)
end

-- n items of the project have ended: the counter goes down, and is deleted at 0.
local function itemsEnded(n)
  if n <= 0 then return end
  if redis.call('DECRBY', KEYS[10], n) <= 0 then
    redis.call('DEL', KEYS[10])
  else
    redis.call('EXPIRE', KEYS[10], COUNTER_TTL)
  end
end

-- The task has ended as `final`: retention (the task's own, if it has one) counts from now for every key of the
-- task (its Idempotency-Key included), it leaves the open-task sets for its final index, final-index entries whose
-- tasks ended a retention ago are pruned, and waiters are told.
local function endTask(checkId, now, retention, final, message, finalIndex, channel)
  local keep = retention
  local own = redis.call('HGET', KEYS[1], 'retention')
  if own then keep = math.min(retention, tonumber(own)) end
  redis.call('HSET', KEYS[1], 'status', final, 'finished_at', now, 'message', message, 'running', 0)
  redis.call('DEL', KEYS[4])
  taskEvent('end')
  if redis.call('HEXISTS', KEYS[1], 'callback') == 1 then redis.call('ZADD', KEYS[14], now, checkId) end
  for _, i in ipairs({ 1, 2, 3, 13 }) do redis.call('EXPIRE', KEYS[i], keep) end
  local idem = redis.call('HGET', KEYS[1], 'idem')
  if idem then redis.call('EXPIRE', idem, keep) end
  redis.call('ZREM', KEYS[5], checkId)
  redis.call('ZREM', KEYS[6], checkId)
  redis.call('ZREM', KEYS[11], checkId)
  redis.call('ZADD', finalIndex, 0, checkId)
  redis.call('EXPIRE', finalIndex, retention)
  -- Scored so that "ended a deployment retention ago" is when this task's own keys expire.
  redis.call('ZADD', KEYS[12], now - (retention - keep) * 1000, checkId)
  redis.call('EXPIRE', KEYS[12], retention)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[12], '-inf', '(' .. (now - retention * 1000), 'LIMIT', 0, 200)
  if #expired > 0 then
    for i = 7, 9 do redis.call('ZREM', KEYS[i], unpack(expired)) end
    redis.call('ZREM', KEYS[12], unpack(expired))
  end
  redis.call('PUBLISH', channel, checkId)
end

-- HSET of many fields, in slices (Lua's unpack has a limit far below the largest batch).
local function hsetMany(key, pairs)
  for i = 1, #pairs, 1000 do
    redis.call('HSET', key, unpack(pairs, i, math.min(i + 999, #pairs)))
  end
end

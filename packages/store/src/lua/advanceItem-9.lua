--[[
  One step of a worker through its job: finish one item (optional), then claim the next (optional), in one round
  trip. Safe under BullMQ's at-least-once delivery:
  - finish: the first terminal result wins; a later one (a re-run after a lost lock) is dropped and moves no counter.
    The item's secrets are deleted the moment it is terminal. When the last item ends, the task ends:
    Succeeded if none failed, else Failed, and every key of the task gets the retention TTL.
  - claim: a terminal item, or an item of an ended/canceled task, is skipped; a re-run of a running item counts
    another attempt but no counter moves twice.

  KEYS[1] task hash      KEYS[2] items hash (index -> state JSON)   KEYS[3] specs hash   KEYS[4] secrets hash
  KEYS[5] project index Pending   KEYS[6] project index Running
  KEYS[7] project index Succeeded KEYS[8] project index Failed      KEYS[9] project unfinished-items counter
  ARGV[1] check id   ARGV[2] now (ms)   ARGV[3] retention (s)
  ARGV[4] index to finish or ''   ARGV[5] its terminal state JSON (status success|failed + result fields)
  ARGV[6] index to claim or ''    ARGV[7] worker JSON {id,pool}   ARGV[8] channel on which the end of a task is announced

  Output: { written: 1 | 0 (already terminal) | -1 (gone) | false (nothing to finish), task status or false,
            claim: { 'run', attempts, spec JSON, sealed secrets or false } | { 'skip', status } | { 'gone' } | false }
]]
local checkId, now, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local taskStatus = redis.call('HGET', KEYS[1], 'status')

local function isTerminal(s)
  return s == 'success' or s == 'failed' or s == 'canceled'
end

local function moveIndex(from, to)
  redis.call('ZREM', from, checkId)
  redis.call('ZADD', to, 0, checkId)
end

local function markRunning()
  if taskStatus == 'Pending' then
    redis.call('HSET', KEYS[1], 'status', 'Running', 'started_at', now)
    moveIndex(KEYS[5], KEYS[6])
    taskStatus = 'Running'
  end
end

local written = false
if ARGV[4] ~= '' then
  local raw = taskStatus and redis.call('HGET', KEYS[2], ARGV[4])
  local before = raw and cjson.decode(raw).status
  if not raw then
    written = -1
  elseif isTerminal(before) then
    written = 0
  else
    written = 1
    local result = cjson.decode(ARGV[5])
    redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
    redis.call('HDEL', KEYS[4], ARGV[4])
    if before == 'running' then redis.call('HINCRBY', KEYS[1], 'running', -1) end
    redis.call('HINCRBY', KEYS[1], result.status == 'success' and 'succeeded' or 'failed', 1)
    if redis.call('DECR', KEYS[9]) < 0 then redis.call('SET', KEYS[9], 0) end
    local t = redis.call('HMGET', KEYS[1], 'total', 'succeeded', 'failed', 'canceled')
    local total, ok, bad, canceled = tonumber(t[1]), tonumber(t[2]) or 0, tonumber(t[3]) or 0, tonumber(t[4]) or 0
    if ok + bad + canceled >= total and (taskStatus == 'Pending' or taskStatus == 'Running') then
      local final, message, finalKey = 'Succeeded', 'all ' .. total .. ' items succeeded', KEYS[7]
      if bad > 0 then
        final, message, finalKey = 'Failed', bad .. ' of ' .. total .. ' items failed', KEYS[8]
      end
      redis.call('HSET', KEYS[1], 'status', final, 'finished_at', now, 'message', message, 'running', 0)
      redis.call('ZREM', KEYS[5], checkId)
      moveIndex(KEYS[6], finalKey)
      for i = 1, 3 do redis.call('EXPIRE', KEYS[i], retention) end
      redis.call('DEL', KEYS[4])
      redis.call('PUBLISH', ARGV[8], checkId)
      taskStatus = final
    else
      markRunning()
    end
  end
end

local claim = false
if ARGV[6] ~= '' then
  local raw = taskStatus and redis.call('HGET', KEYS[2], ARGV[6])
  if not raw then
    claim = { 'gone' }
  else
    local item = cjson.decode(raw)
    if isTerminal(item.status) then
      claim = { 'skip', item.status }
    elseif taskStatus ~= 'Pending' and taskStatus ~= 'Running' then
      claim = { 'skip', taskStatus }
    else
      if item.status == 'pending' then redis.call('HINCRBY', KEYS[1], 'running', 1) end
      item.status = 'running'
      item.attempts = (item.attempts or 0) + 1
      item.started_at = now
      item.worker = cjson.decode(ARGV[7])
      redis.call('HSET', KEYS[2], ARGV[6], cjson.encode(item))
      markRunning()
      claim = { 'run', item.attempts, redis.call('HGET', KEYS[3], ARGV[6]), redis.call('HGET', KEYS[4], ARGV[6]) }
    end
  end
end
return { written, taskStatus or false, claim }

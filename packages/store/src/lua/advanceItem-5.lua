--[[
  One step of a worker through its job: finish one item (optional), then claim the next (optional), in one round
  trip. Safe under BullMQ's at-least-once delivery:
  - finish: the first terminal result wins; a later one (a re-run after a lost lock) is dropped and moves no counter.
    The item's secrets are deleted the moment it is terminal. When the last item ends, the task ends:
    Succeeded if none failed, else Failed (see endTask). A result without `attempts` (an item failed for its worker,
    which never ran it here: a job given up, or lost) keeps the attempts, start time and worker the item has.
  - claim: a terminal item, or an item of an ended/canceled task, is skipped; a re-run of a running item counts
    another attempt but no counter moves twice.

  KEYS[1..5] the task's keys (includes/taskKeys.lua)
  ARGV[1] check id   ARGV[2] now (ms)   ARGV[3] retention (s)
  ARGV[4] index to finish or ''   ARGV[5] its terminal state JSON (status success|failed + result fields)
  ARGV[6] index to claim or ''    ARGV[7] worker JSON {id,pool}   ARGV[8] channel on which the end of a task is announced

  Output: { written: 1 | 0 (already terminal) | -1 (gone) | false (nothing to finish), task status or false,
            claim: { 'run', attempts, spec JSON, sealed secrets or false } | { 'skip', status } | { 'gone' } | false,
            1 when this call ended the task, else 0, 1 when it moved the task from Pending to Running, else 0,
            the task's items not yet terminal (after a written finish, else false),
            when it ended the task: { seconds kept, 1 if a callback is due, its Idempotency-Key or false }, else false }
  The caller brings the project's side in step with the last four (projectTask.lua).
]]
--- @include "taskKeys"

local checkId, now, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local taskStatus = redis.call('HGET', KEYS[1], 'status')

local started = 0
local function markRunning()
  if taskStatus == 'Pending' then
    redis.call('HSET', KEYS[1], 'status', 'Running', 'started_at', now)
    taskStatus = 'Running'
    started = 1
  end
end

local written = false
local ended = 0
local remaining = false
local endInfo = false
if ARGV[4] ~= '' then
  local raw = taskStatus and redis.call('HGET', KEYS[2], ARGV[4])
  local stored = raw and cjson.decode(raw)
  if not raw then
    written = -1
  elseif isTerminal(stored.status) then
    written = 0
  else
    written = 1
    local result = cjson.decode(ARGV[5])
    local encoded = ARGV[5]
    if result.attempts == nil then
      result.attempts = stored.attempts or 0
      result.started_at = stored.started_at
      result.worker = stored.worker
      encoded = cjson.encode(result)
    end
    redis.call('HSET', KEYS[2], ARGV[4], encoded)
    redis.call('HDEL', KEYS[4], ARGV[4])
    if stored.status == 'running' then redis.call('HINCRBY', KEYS[1], 'running', -1) end
    redis.call('HINCRBY', KEYS[1], result.status == 'success' and 'succeeded' or 'failed', 1)
    taskEvent('item', ARGV[4])
    local total, bad
    remaining, total, bad = remainingItems()
    if remaining <= 0 and isOpen(taskStatus) then
      ended = 1
      if bad > 0 then
        endInfo = endTask(now, retention, 'Failed', bad .. ' of ' .. total .. ' items failed', ARGV[8])
        taskStatus = 'Failed'
      else
        endInfo = endTask(now, retention, 'Succeeded', 'all ' .. total .. ' items succeeded', ARGV[8])
        taskStatus = 'Succeeded'
      end
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
    elseif not isOpen(taskStatus) then
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
return { written, taskStatus or false, claim, ended, started, remaining, endInfo }

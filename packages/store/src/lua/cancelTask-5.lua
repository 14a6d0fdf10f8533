--[[
  Cancels a task of a project: every item not yet terminal (waiting or running) ends as canceled at once, the task
  ends as Canceled (see endTask), secrets are deleted. A result that a worker writes later for such an item is dropped
  (first terminal result wins), so a canceled task never changes again. The project is checked here, and the task
  returned as it now is, so that a cancel is one round trip.

  KEYS[1..5] the task's keys (includes/taskKeys.lua)
  ARGV[1] check id   ARGV[2] project   ARGV[3] now (ms)   ARGV[4] retention (s)   ARGV[5] error message for canceled items
  ARGV[6] channel on which workers hear of cancellations   ARGV[7] channel on which the end of a task is announced

  Output: -1 when the task does not exist in this project, { 'ended', status } when it had ended, else
          { 'canceled', number of items canceled, task hash, specs hash, items hash (as HGETALL returns them),
          { seconds kept, 1 if a callback is due, its Idempotency-Key or false } }.
  The caller brings the project's side in step (projectTask.lua).
]]
--- @include "taskKeys"

local checkId, project, now, retention = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local task = redis.call('HMGET', KEYS[1], 'project', 'status')
if task[1] ~= project then return -1 end
local status = task[2]
if not isOpen(status) then return { 'ended', status } end
local items = redis.call('HGETALL', KEYS[2])
local canceled = 0
for i = 1, #items, 2 do
  local item = cjson.decode(items[i + 1])
  if not isTerminal(item.status) then
    item.status = 'canceled'
    item.success = false
    item.error_code = 'CANCELED'
    item.error_msg = ARGV[5]
    item.finished_at = now
    items[i + 1] = cjson.encode(item)
    redis.call('HSET', KEYS[2], items[i], items[i + 1])
    taskEvent('item', items[i])
    canceled = canceled + 1
  end
end
redis.call('HINCRBY', KEYS[1], 'canceled', canceled)
local endInfo = endTask(now, retention, 'Canceled', 'canceled by request; ' .. canceled .. ' unfinished items canceled', ARGV[7])
redis.call('PUBLISH', ARGV[6], checkId)
return { 'canceled', canceled, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[3]), items, endInfo }

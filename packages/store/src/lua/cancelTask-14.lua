--[[
  Cancels a task: every item not yet terminal (waiting or running) ends as canceled at once, the task ends as
  Canceled (see endTask), secrets are deleted. A result that a worker writes later for such an item is dropped
  (first terminal result wins), so a canceled task never changes again.

  KEYS[1..14] the task's keys (includes/taskKeys.lua)
  ARGV[1] check id   ARGV[2] now (ms)   ARGV[3] retention (s)   ARGV[4] error message for canceled items
  ARGV[5] channel on which workers hear of cancellations   ARGV[6] channel on which the end of a task is announced

  Output: number of items canceled, or -1 when the task does not exist, or { 'ended', status } when it had ended.
]]
--- @include "taskKeys"

local checkId, now, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status ~= 'Pending' and status ~= 'Running' then return { 'ended', status } end
local items = redis.call('HGETALL', KEYS[2])
local canceled = 0
for i = 1, #items, 2 do
  local item = cjson.decode(items[i + 1])
  if not isTerminal(item.status) then
    item.status = 'canceled'
    item.success = false
    item.error_code = 'CANCELED'
    item.error_msg = ARGV[4]
    item.finished_at = now
    redis.call('HSET', KEYS[2], items[i], cjson.encode(item))
    taskEvent('item', items[i])
    canceled = canceled + 1
  end
end
redis.call('HINCRBY', KEYS[1], 'canceled', canceled)
itemsEnded(canceled)
endTask(checkId, now, retention, 'Canceled', 'canceled by request; ' .. canceled .. ' unfinished items canceled', KEYS[9], ARGV[6])
redis.call('PUBLISH', ARGV[5], checkId)
return canceled

--[[
  Cancels a task: every item not yet terminal (waiting or running) ends as canceled at once, the task ends as
  Canceled, secrets are deleted. A result that a worker writes later for such an item is dropped (first terminal
  result wins), so a canceled task never changes again.

  KEYS[1] task hash   KEYS[2] items hash   KEYS[3] specs hash   KEYS[4] secrets hash
  KEYS[5] project index Pending   KEYS[6] project index Running   KEYS[7] project index Canceled
  KEYS[8] project unfinished-items counter
  ARGV[1] check id   ARGV[2] now (ms)   ARGV[3] retention (s)   ARGV[4] error message for canceled items
  ARGV[5] channel on which workers hear of cancellations   ARGV[6] channel on which the end of a task is announced

  Output: number of items canceled, or -1 when the task does not exist, or { 'ended', status } when it had ended.
]]
local checkId, now, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status ~= 'Pending' and status ~= 'Running' then return { 'ended', status } end
local items = redis.call('HGETALL', KEYS[2])
local canceled = 0
for i = 1, #items, 2 do
  local item = cjson.decode(items[i + 1])
  if item.status == 'pending' or item.status == 'running' then
    item.status = 'canceled'
    item.success = false
    item.error_code = 'CANCELED'
    item.error_msg = ARGV[4]
    item.finished_at = now
    redis.call('HSET', KEYS[2], items[i], cjson.encode(item))
    canceled = canceled + 1
  end
end
redis.call('HINCRBY', KEYS[1], 'canceled', canceled)
redis.call('HSET', KEYS[1], 'status', 'Canceled', 'finished_at', now, 'running', 0,
  'message', 'canceled by request; ' .. canceled .. ' unfinished items canceled')
redis.call('ZREM', KEYS[5], checkId)
redis.call('ZREM', KEYS[6], checkId)
redis.call('ZADD', KEYS[7], 0, checkId)
redis.call('DEL', KEYS[4])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], retention) end
redis.call('PUBLISH', ARGV[5], checkId)
redis.call('PUBLISH', ARGV[6], checkId)
local left = redis.call('DECRBY', KEYS[8], canceled)
if left < 0 then redis.call('SET', KEYS[8], 0) end
return canceled

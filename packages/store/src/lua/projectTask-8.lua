--[[
  Brings a project's side in step with one of its tasks, as the task's own scripts reported it (they run in the
  task's slot, this one in the project's). Idempotent and order-free, so a report repeated, late or overtaken by a
  newer one changes nothing: the task only moves forward (Pending -> Running -> a final status, never back), and its
  share of the backlog only goes down. A task that ended leaves the backlog and the open indexes for its final index;
  one abandoned (its submission died before storing it) leaves them for none, and its Idempotency-Key is deleted.

  KEYS[1..8] the project's keys (includes/projectKeys.lua), KEYS[8] the task's Idempotency-Key when it has one
  ARGV[1] check id   ARGV[2] the task's status (Pending|Running|Succeeded|Failed|Canceled|Abandoned)
  ARGV[3] its items not yet terminal, or '' when unknown   ARGV[4] now (ms)
  ARGV[5] seconds its keys are kept after its end (its own retention)   ARGV[6] the deployment's retention (s)

  Output: the backlog's total after the change.
]]
--- @include "projectKeys"

local checkId, status, remaining, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local final = status == 'Succeeded' or status == 'Failed' or status == 'Canceled' or status == 'Abandoned'
local held = redis.call('HGET', KEYS[6], checkId)
local share = held and tonumber(held)

if final then
  if share then
    redis.call('HDEL', KEYS[6], checkId)
    if redis.call('HINCRBY', KEYS[6], 'total', -share) <= 0 and redis.call('HLEN', KEYS[6]) <= 1 then redis.call('DEL', KEYS[6]) end
  end
  redis.call('ZREM', KEYS[1], checkId)
  redis.call('ZREM', KEYS[2], checkId)
  if status == 'Abandoned' then
    if KEYS[8] ~= KEYS[6] then
      local used = redis.call('GET', KEYS[8])
      if used and string.sub(used, 1, #checkId) == checkId then redis.call('DEL', KEYS[8]) end
    end
    return tonumber(redis.call('HGET', KEYS[6], 'total') or '0')
  end
  local retention, keep = tonumber(ARGV[6]), tonumber(ARGV[5])
  local index = KEYS[INDEX[status]]
  if redis.call('ZSCORE', index, checkId) == false then
    redis.call('ZADD', index, 0, checkId)
    -- Scored so that "ended a deployment retention ago" is when this task's own keys expire.
    redis.call('ZADD', KEYS[7], now - (retention - keep) * 1000, checkId)
    if KEYS[8] ~= KEYS[6] then redis.call('EXPIRE', KEYS[8], keep) end
  end
  redis.call('EXPIRE', index, retention)
  redis.call('EXPIRE', KEYS[7], retention)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', '(' .. (now - retention * 1000), 'LIMIT', 0, 200)
  if #expired > 0 then
    for i = 3, 5 do redis.call('ZREM', KEYS[i], unpack(expired)) end
    redis.call('ZREM', KEYS[7], unpack(expired))
  end
else
  -- Still open. A report that comes after the end finds the task in neither open index and no share: it moves nothing.
  if status == 'Running' and redis.call('ZSCORE', KEYS[1], checkId) then
    redis.call('ZREM', KEYS[1], checkId)
    redis.call('ZADD', KEYS[2], 0, checkId)
  end
  if share and remaining and remaining < share then
    redis.call('HSET', KEYS[6], checkId, remaining)
    redis.call('HINCRBY', KEYS[6], 'total', remaining - share)
    redis.call('EXPIRE', KEYS[6], COUNTER_TTL)
  end
end
return tonumber(redis.call('HGET', KEYS[6], 'total') or '0')

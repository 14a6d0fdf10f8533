--[[
  Hands items back: a worker stopping before their probes finished leaves them pending again, for the worker that
  runs their job next (their attempts stay counted). Only items still running under this worker are touched.

  KEYS[1] task hash   KEYS[2] items hash
  ARGV[1] worker id   ARGV[2..] item indexes

  Output: number of items released.
]]
local released = 0
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[2], ARGV[i])
  if raw then
    local item = cjson.decode(raw)
    if item.status == 'running' and type(item.worker) == 'table' and item.worker.id == ARGV[1] then
      item.status = 'pending'
      item.started_at = nil
      item.worker = nil
      redis.call('HSET', KEYS[2], ARGV[i], cjson.encode(item))
      redis.call('HINCRBY', KEYS[1], 'running', -1)
      released = released + 1
    end
  end
end
return released

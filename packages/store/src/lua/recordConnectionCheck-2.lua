--[[
  Records the result of a saved connection's check from one pool: its status there becomes ACTIVE or FAILED, unless
  the connection was deleted, the pool unbound, or a later check already reported.

  KEYS[1] connection hash   KEYS[2] its pools hash
  ARGV[1] pool   ARGV[2] check id   ARGV[3] now (ms)   ARGV[4] 'ACTIVE' or 'FAILED'   ARGV[5] err_msg
  ARGV[6] the check's result JSON

  Output: { status before, status now } or false when nothing was recorded.
]]
if redis.call('HGET', KEYS[1], 'status') ~= 'ACTIVE' then return false end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return false end
local queue = cjson.decode(raw)
if queue.check_id and queue.check_id >= ARGV[2] then return false end
local before = queue.status
queue.status = ARGV[4]
queue.err_msg = ARGV[5]
queue.update_time = tonumber(ARGV[3])
queue.check_id = ARGV[2]
queue.last = ARGV[6]
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(queue))
return { before, queue.status }

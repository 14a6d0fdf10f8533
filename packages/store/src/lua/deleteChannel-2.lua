--[[
  Deletes a load-balancing channel and frees its name.

  KEYS[1] channels hash (id -> JSON)   KEYS[2] names hash (name -> id)
  ARGV[1] id

  Output: 1 deleted, 0 no such channel.
]]
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
redis.call('HDEL', KEYS[2], cjson.decode(raw).name)
redis.call('HDEL', KEYS[1], ARGV[1])
return 1

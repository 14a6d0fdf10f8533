--[[
  The last step of a task's end (after its own script and its project's side): it leaves the open tasks, and its
  callback, if it has one, becomes due. Idempotent.

  KEYS[1] open tasks   KEYS[2] callbacks due (score = end ms)
  ARGV[1] check id   ARGV[2] now (ms)   ARGV[3] '1' when a callback is due
]]
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[3] == '1' then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) end
return 1

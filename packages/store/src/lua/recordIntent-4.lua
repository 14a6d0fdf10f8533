--[[
  The first step of a submission (see TaskStore.submit), in the control slot: the task's enqueue intent with what is
  needed to undo its project's side, its place among the open tasks, and its pools among the known ones.

  KEYS[1] enqueue intents   KEYS[2] intent details   KEYS[3] open tasks   KEYS[4] known pools (score = last use)
  ARGV[1] check id   ARGV[2] now (ms)   ARGV[3] details JSON {project, idem}   ARGV[4..] the task's pools
]]
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
for i = 4, #ARGV do redis.call('ZADD', KEYS[4], ARGV[2], ARGV[i]) end
redis.call('EXPIRE', KEYS[4], 7 * 86400)
return 1

--[[
  Clears enqueue intents (their jobs are in, or their submission was refused or undone), and with ARGV[1] = '1' the
  tasks' places among the open tasks too (a refused submission: its task never existed).

  KEYS[1] enqueue intents   KEYS[2] intent details   KEYS[3] open tasks
  ARGV[1] '1' to leave the open tasks as well, else '0'   ARGV[2..] check ids
]]
local ids = { unpack(ARGV, 2) }
if #ids == 0 then return 0 end
redis.call('ZREM', KEYS[1], unpack(ids))
redis.call('HDEL', KEYS[2], unpack(ids))
if ARGV[1] == '1' then redis.call('ZREM', KEYS[3], unpack(ids)) end
return #ids

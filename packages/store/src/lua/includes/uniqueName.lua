--[[
  Included (see scripts.ts) by the scripts that save something whose name is unique in a names hash (name -> id):
  load-balancing channels per gateway instance, saved connections per project.
]]

-- Takes `name` for `id` in the names hash, unless another holds it: then nothing is written and that one's id is
-- returned.
local function claimName(namesKey, name, id)
  local taken = redis.call('HGET', namesKey, name)
  if taken then return taken end
  redis.call('HSET', namesKey, name, id)
  return nil
end

-- :GroundhogSnapshotDelete[!] {id}, with no argument (vim.ui.select), the confirmation, and
-- require("groundhog").delete_snapshot(id, opts, cb).
local H = require("gh_harness")
H.setup()

local function info_count()
  return #H.messages(vim.log.levels.INFO)
end

local function listed()
  return vim.tbl_map(function(s)
    return s.id
  end, H.request("context/snapshots").snapshots)
end

H.run(function()
  H.wait_client()
  local ids = {}
  for n = 1, 4 do
    H.request("context/update", { set = { n = n } })
    ids[n] = H.request("context/snapshot", { label = "s" .. n }).id
  end
  local point = H.request("context/rollback", { toVersion = 2 }).recoveryPoint
  H.result.ids, H.result.point = ids, point
  H.result.completion = vim.fn.getcompletion("GroundhogSnapshotDelete ", "cmdline")

  -- the confirmation, answered "Delete", then "Cancel"
  local prompts = {}
  local answer = "Delete"
  vim.ui.select = function(items, opts, on_choice)
    table.insert(prompts, opts.prompt)
    if opts.kind == "groundhog.confirm" then
      return on_choice(answer)
    end
    for _, item in ipairs(items) do -- the pick: s3
      if item.id == ids[3] then
        return on_choice(item)
      end
    end
    on_choice(nil)
  end
  local before = info_count()
  vim.cmd("GroundhogSnapshotDelete " .. ids[1])
  H.wait(function()
    return info_count() > before
  end, "the first deletion message")
  answer = "Cancel"
  local err, cancelled = H.call(require("groundhog").delete_snapshot, ids[2], nil)
  H.result.cancelled = { err = err, result = cancelled, listed = listed() }
  answer = "Delete"
  before = info_count()
  vim.cmd("GroundhogSnapshotDelete") -- picks s3 from the list, then confirms
  H.wait(function()
    return info_count() > before
  end, "the second deletion message")
  before = info_count()
  vim.cmd("GroundhogSnapshotDelete! " .. ids[4]) -- no confirmation
  H.wait(function()
    return info_count() > before
  end, "the third deletion message")
  H.result.prompts = prompts
  H.result.listed = listed()
  local err2 = H.call(require("groundhog").delete_snapshot, point, { confirm = false })
  H.result.refused = err2
  H.result.messages = H.messages(vim.log.levels.INFO)
  H.result.restored = H.request("context/rollback", { snapshotId = ids[2], dryRun = true })
end)

-- :GroundhogRollback {version}, {snapshot id}, and with no argument (vim.ui.select).
local H = require("gh_harness")
H.setup()

local function data()
  return H.request("context/get").data
end

local function info_count()
  return #H.messages(vim.log.levels.INFO)
end

H.run(function()
  H.wait_client()
  H.request("context/update", { set = { task = "parse" } })
  local v3 = H.request("context/update", { set = { task = "lex", notes = "x" } }).version
  local before = info_count()
  vim.cmd("GroundhogRollback 2") -- back to {task = "parse"}
  H.wait(function()
    return info_count() > before
  end, "the rollback message")
  H.result.after_version = { data = data(), head = H.request("context/status").active.version, v3 = v3 }

  local snap = H.request("context/snapshot", { label = "good" })
  H.result.completion = vim.fn.getcompletion("GroundhogRollback ", "cmdline")
  H.request("context/update", { set = { task = "broken" } })
  before = info_count()
  vim.cmd("GroundhogRollback " .. snap.id)
  H.wait(function()
    return info_count() > before
  end, "the second rollback message")
  H.result.after_snapshot = { data = data(), snapshot = snap.id }

  -- No argument: the user picks version 1 from the list.
  local offered
  vim.ui.select = function(items, opts, on_choice)
    offered = { prompt = opts.prompt, labels = vim.tbl_map(opts.format_item, items) }
    for _, item in ipairs(items) do
      if item.target == 1 then
        return on_choice(item)
      end
    end
    on_choice(nil)
  end
  before = info_count()
  vim.cmd("GroundhogRollback")
  H.wait(function()
    return info_count() > before
  end, "the third rollback message")
  H.result.after_select = { data = data(), offered = offered }
  H.result.history = H.request("context/history").entries
  H.result.messages = H.messages(vim.log.levels.INFO)
end)

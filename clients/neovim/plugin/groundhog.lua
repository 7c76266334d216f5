-- Groundhog user commands. Nothing else happens at startup: the server starts from
-- require("groundhog").setup() or vim.lsp.enable("groundhog").
if vim.g.loaded_groundhog then
  return
end
vim.g.loaded_groundhog = true

local function api()
  return require("groundhog")
end

---@param fn_name "complete_contexts"|"complete_rollback"|"complete_versions"|"complete_snapshots"
local function complete(fn_name)
  return function(arglead)
    return require("groundhog.commands")[fn_name](arglead)
  end
end

local command = vim.api.nvim_create_user_command

command("GroundhogStatus", function()
  api().status()
end, { nargs = 0, desc = "Groundhog: show the workspace, session and active context" })

command("GroundhogSnapshot", function(o)
  api().snapshot(o.args ~= "" and o.args or nil)
end, { nargs = "?", desc = "Groundhog: snapshot the active context, with an optional label" })

command("GroundhogRollback", function(o)
  require("groundhog.commands").rollback(o.fargs)
end, {
  nargs = "?",
  complete = complete("complete_rollback"),
  desc = "Groundhog: roll the active context back to a version or snapshot",
})

command("GroundhogSnapshotDelete", function(o)
  api().delete_snapshot(o.fargs[1], { confirm = not o.bang })
end, {
  nargs = "?",
  bang = true,
  complete = complete("complete_snapshots"),
  desc = "Groundhog: delete a snapshot of the active context (! skips the confirmation)",
})

command("GroundhogSwitch", function(o)
  api().switch(o.fargs[1])
end, { nargs = "?", complete = complete("complete_contexts"), desc = "Groundhog: switch context" })

command("GroundhogNew", function(o)
  api().new(o.fargs[1])
end, { nargs = 1, desc = "Groundhog: create a context and switch to it" })

command("GroundhogHistory", function(o)
  api().history({ context = o.fargs[1] })
end, {
  nargs = "?",
  complete = complete("complete_contexts"),
  desc = "Groundhog: show the history of a context",
})

command("GroundhogDiff", function(o)
  require("groundhog.commands").diff(o.fargs)
end, {
  nargs = "*",
  complete = complete("complete_versions"),
  desc = "Groundhog: show the patch between two versions of the active context",
})

command("GroundhogInstall", function()
  require("groundhog.install").run()
end, {
  nargs = 0,
  desc = "Groundhog: install the server into a private Python environment (asynchronous)",
})

--- Starting the server without `vim.lsp.enable`: for every file buffer under a workspace
--- root, and for the startup directory (so that `context/didRestore` can reopen files even
--- when Neovim was started without any).

local client = require("groundhog.client")
local const = require("groundhog.constants")

local M = {}

local function start_for_cwd()
  if #vim.lsp.get_clients({ name = const.CLIENT_NAME }) == 0 then
    client.start_for_dir(vim.fn.getcwd())
  end
end

local function start_for_loaded_buffers()
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      client.start_for_buffer(bufnr)
    end
  end
end

--- Turn autostart on or off (idempotent).
---@param enabled boolean
function M.enable(enabled)
  local group = vim.api.nvim_create_augroup(const.augroup.autostart, { clear = true })
  if not enabled then
    return
  end
  vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
    group = group,
    desc = "groundhog: start the server for files under a workspace root",
    callback = function(args)
      client.start_for_buffer(args.buf)
    end,
  })
  if vim.v.vim_did_enter == 1 then
    -- On the next tick: a plugin manager's build step (`:GroundhogInstall`) right after
    -- setup() has started by then, and the server starts when it ends instead of failing now.
    vim.schedule(function()
      start_for_loaded_buffers()
      start_for_cwd()
    end)
  else
    start_for_loaded_buffers()
    vim.api.nvim_create_autocmd("VimEnter", {
      group = group,
      once = true,
      desc = "groundhog: start the server for the startup directory",
      callback = start_for_cwd,
    })
  end
end

return M

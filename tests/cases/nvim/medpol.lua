-- Headless Neovim with `medpol lsp` as the language server of a policy (tests/nvim.rs).
-- Opens $MEDPOL_POLICY, waits for its diagnostics and writes them to $MEDPOL_OUT, one a line:
-- `line:column code message`.
local policy = os.getenv("MEDPOL_POLICY")
local out = os.getenv("MEDPOL_OUT")
vim.cmd("edit " .. vim.fn.fnameescape(policy))
local buf = vim.api.nvim_get_current_buf()
local config = {
  name = "medpol",
  cmd = { os.getenv("MEDPOL_BIN"), "lsp" },
  root_dir = vim.fn.fnamemodify(policy, ":p:h"),
}
if vim.lsp.start then
  -- Neovim 0.8 and later.
  vim.lsp.start(config)
else
  -- Neovim 0.7 (Debian 12) has no `vim.lsp.start`.
  vim.lsp.buf_attach_client(buf, vim.lsp.start_client(config))
end
vim.wait(20000, function()
  return #vim.diagnostic.get(buf) > 0
end, 50)
local lines = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
  local message = d.message:gsub("\n.*", "")
  table.insert(lines, string.format("%d:%d %s %s", d.lnum, d.col, tostring(code), message))
end
vim.fn.writefile(lines, out)
vim.cmd("qa!")

// Drives a real `groundhog mcp` process with an official TypeScript MCP client, as agents built on
// it do, following a plan written by the pytest side (tests/e2e/test_mcp_clients.py).
//
//   node driver.mjs <plan.json>
//
// plan: {sdk: "v1" | "v2", era: "legacy" | "modern", server: {command, args, env, cwd}, steps: [...]}
// steps: {op: "listTools"} | {op: "call", name, arguments} | {op: "subscribe", uri} |
//        {op: "listen", filter} | {op: "ready"} (prints a line, waits for one on stdin) |
//        {op: "waitEvents", method, count, timeoutMs}
// Each step prints one JSON line: {step, op, ok: true, result} or {step, op, ok: false, error}.
// `call` reports what `callTool` returned or threw: an SDK that rejects an answer (the 1.x client
// validates structuredContent against the output schema even on errors) shows up as a thrown error.
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const events = [];
const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

function print(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

async function connect() {
  const info = { name: `ts-sdk-${plan.sdk}`, version: "1.0.0" };
  const params = { ...plan.server, stderr: "inherit" };
  if (plan.sdk === "v1") {
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
    const client = new Client(info, { capabilities: {} });
    client.fallbackNotificationHandler = async (notification) => void events.push(notification);
    await client.connect(new StdioClientTransport(params));
    return client;
  }
  const { Client } = await import("@modelcontextprotocol/client");
  const { StdioClientTransport } = await import("@modelcontextprotocol/client/stdio");
  const options = { capabilities: {}, cacheMode: "bypass" };
  if (plan.era === "modern") options.versionNegotiation = { mode: { pin: "2026-07-28" } };
  const client = new Client(info, options);
  client.fallbackNotificationHandler = async (notification) => void events.push(notification);
  await client.connect(new StdioClientTransport(params));
  return client;
}

async function waitEvents(step) {
  const deadline = Date.now() + (step.timeoutMs ?? 10000);
  const matching = () => events.filter((event) => event.method === step.method);
  while (matching().length < step.count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  // a little longer, so that an extra event would be seen too
  await new Promise((resolve) => setTimeout(resolve, step.settleMs ?? 300));
  return matching();
}

async function run(client, step) {
  switch (step.op) {
    case "listTools":
      return await client.listTools();
    case "call":
      return await client.callTool({ name: step.name, arguments: step.arguments ?? {} });
    case "subscribe":
      return await client.subscribeResource({ uri: step.uri });
    case "listen": {
      const subscription = await client.listen(step.filter);
      return { honoredFilter: subscription.honoredFilter };
    }
    case "ready":
      print({ ready: true });
      await lines.next();
      return {};
    case "waitEvents":
      return await waitEvents(step);
    default:
      throw new Error(`unknown step ${step.op}`);
  }
}

const client = await connect();
for (const [index, step] of plan.steps.entries()) {
  try {
    print({ step: index, op: step.op, ok: true, result: await run(client, step) });
  } catch (error) {
    print({ step: index, op: step.op, ok: false, error: { code: error.code ?? null, message: String(error.message) } });
  }
}
await client.close();
input.close();
process.exit(0);

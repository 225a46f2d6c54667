/**
 * Fake agent that dials the broker, starts a grandchild holding its stdout and
 * stderr (as an inference process would), writes that grandchild's PID to
 * `$FAKE_AGENT_CHILD_PID_FILE`, hangs up and exits 0 at once, the grandchild
 * still running: `sh -c "sleep 20 & exit 0"` with a connection.
 *
 * @module
 */
const addr = Deno.args[Deno.args.indexOf("--connect-addr") + 1];
const [hostname, port] = addr.split(":");
const conn = await Deno.connect({ hostname, port: Number(port) });
const child = new Deno.Command("sleep", { args: ["20"], stdin: "null" }).spawn();
await Deno.writeTextFile(Deno.env.get("FAKE_AGENT_CHILD_PID_FILE")!, String(child.pid));
conn.close();
Deno.exit(0);

// A small polling assertion for the browser flow: waits until `read()` returns `want`.
export async function expect(read, want, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let got;
  for (;;) {
    got = await read();
    if (got === want) return;
    if (Date.now() > deadline) {
      throw new Error(`expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export default async function globalTeardown(): Promise<void> {
  await globalThis.__IRBOT_REDIS__?.stop();
}

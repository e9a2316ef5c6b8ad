import { execFileSync } from 'node:child_process';

/** Whether socat is installed. Serial tests skip without it, except under CI=true, where they must fail. */
export function haveSocat(): boolean {
  try {
    execFileSync('socat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const SOCAT = haveSocat();
if (!SOCAT) {
  if (process.env.CI === 'true') throw new Error('socat is required under CI=true (apt-get install -y socat): the serial tests cannot be skipped');
  console.warn('socat is not installed: skipping the pseudo-terminal tests (apt-get install -y socat)');
}

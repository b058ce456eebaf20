// The process environment the GPU stack reads, set before any adapter is requested. Imported first
// by main.ts and preloaded by `deno task test`, so every command and test starts quiet.
//
// Mesa's Vulkan loader warns twice on every start ("XDG_RUNTIME_DIR is invalid or not set") when
// the variable is missing or names no folder, which is the case in containers and CI. It wants a
// private folder of the user's; we make one under the temp dir, as the XDG spec allows.

function isPrivateDir(path: string | undefined): boolean {
  if (!path) return false;
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

export function prepareEnvironment(): void {
  let env;
  try {
    env = Deno.env.toObject();
  } catch {
    return; // without --allow-env the GPU stack reads what it finds
  }
  if (!isPrivateDir(env.XDG_RUNTIME_DIR)) {
    // Deno.uid() needs --allow-sys, which the tasks do not grant: a missing uid is "user".
    let uid: number | string = "user";
    try {
      uid = Deno.uid() ?? "user";
    } catch {
      // NotCapable without --allow-sys
    }
    const dir = `${env.TMPDIR ?? "/tmp"}/sprite-diffusion-runtime-${uid}`;
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      Deno.chmodSync(dir, 0o700);
      Deno.env.set("XDG_RUNTIME_DIR", dir);
    } catch {
      // A read-only temp dir: leave the variable as it is (Mesa only warns).
    }
  }
}

prepareEnvironment();

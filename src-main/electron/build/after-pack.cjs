/**
 * electron-builder `afterPack` hook: flips Electron fuses on the packaged app before it is signed.
 * SECURITY: the shipped binary cannot be turned into a plain Node runtime (RunAsNode off), cannot
 * be steered by NODE_OPTIONS or --inspect, loads its code only from app.asar and checks the
 * archive's integrity (macOS/Windows), and encrypts its cookie store.
 */
const path = require('node:path');
const { flipFuses, FuseVersion, FuseV1Options } = require('@electron/fuses');

/** The fuse settings (exported for tests). */
const FUSES = {
  version: FuseVersion.V1,
  [FuseV1Options.RunAsNode]: false,
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.EnableCookieEncryption]: true,
  // SECURITY: the app loads from app://relay/, never file://; file: pages get no extra powers.
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
};

/** Path of the Electron executable inside the packed app, per platform. */
function electronBinary(context) {
  const { appOutDir, packager, electronPlatformName } = context;
  const name = packager.appInfo.productFilename;
  if (electronPlatformName === 'darwin' || electronPlatformName === 'mas') return path.join(appOutDir, `${name}.app`);
  if (electronPlatformName === 'win32') return path.join(appOutDir, `${name}.exe`);
  return path.join(appOutDir, packager.executableName || name.toLowerCase().replace(/\s+/g, '-'));
}

async function afterPack(context) {
  const file = electronBinary(context);
  const isMac = context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas';
  // macOS binaries are re-signed by electron-builder after this hook; arm64 needs an ad-hoc
  // signature right away when flipping fuses on an unsigned binary.
  await flipFuses(file, { ...FUSES, resetAdHocDarwinSignature: isMac && context.arch === 3 /* Arch.arm64 */ });
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.FUSES = FUSES;
module.exports.electronBinary = electronBinary;

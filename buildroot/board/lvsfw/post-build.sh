#!/usr/bin/env bash
# buildroot post-build script (BR2_ROOTFS_POST_BUILD_SCRIPT): leave in TARGET_DIR (the
# initramfs) only what the appliance uses, as scripts/build-image's initramfs has it:
# /init (static), /etc/lvsfw/, /lib/modules/<release>/modules.builtin and the like,
# rootfs/ from the repository (the overlay), and buildroot's skeleton.
set -euo pipefail
target=${1:?usage: post-build.sh TARGET_DIR}

die() {
	printf 'post-build: error: %s\n' "$*" >&2
	exit 1
}

[ -x "$target/init" ] || die "$target/init missing (the lvsfw package installs it)"
for f in board.conf config.json version; do
	[ -s "$target/etc/lvsfw/$f" ] || die "$target/etc/lvsfw/$f missing"
done

# grub2's i386-pc part installs buildroot's sample grub.cfg here; ours is on the ESP.
rm -rf "${target:?}/boot"

# /init is static and the only program: the toolchain's shared libraries (musl's libc.so
# and loader, libgcc_s, and the libstdc++ that building the Rust compiler's C++ parts
# makes buildroot install) would only take room in every boot's initramfs.
for d in "$target/lib" "$target/usr/lib"; do
	[ ! -d "$d" ] || find "$d" -maxdepth 1 \( -name '*.so' -o -name '*.so.*' \) -delete
done

# As in scripts/build-image: PID 1 reads modules.builtin, .dep, .softdep and .alias, not the modinfo.
rm -f "$target"/lib/modules/*/modules.builtin.modinfo

#!/usr/bin/env bash
# buildroot post-image script (BR2_ROOTFS_POST_IMAGE_SCRIPT): make BINARIES_DIR/lvsfw.img,
# the flashable disk image, laid out as the layout contract says (buildroot/README.md):
#   1. stage the ESP's files in BINARIES_DIR/lvsfw-esp/: BOOTX64.EFI, grub/grub.cfg (the
#      template with the board's command line), grub/grubenv (slot=A, next empty), and the
#      same kernel, initrd and version in both slots A/ and B/;
#   2. patch grub's i386-pc core.img to load its remaining sectors from 2049 and up;
#   3. genimage (genimage.cfg): the FAT ESP and the GPT disk;
#   4. write grub's i386-pc boot.img code into the MBR, pointing it at sector 2048.
# Inputs from buildroot: bzImage, rootfs.cpio.gz, grub.img (i386-pc core image) and
# efi-part/EFI/BOOT/bootx64.efi in BINARIES_DIR; boot.img from grub2's build directory;
# /etc/lvsfw/version from TARGET_DIR; the board from BR2_CONFIG.
set -euo pipefail
unset GIT_DIR GIT_WORK_TREE # git below reads the repository, whatever the caller set

die() {
	printf 'post-image: error: %s\n' "$*" >&2
	exit 1
}
say() { printf 'post-image: %s\n' "$*"; }

: "${BINARIES_DIR:=${1:-}}"
[ -d "${BINARIES_DIR:-}" ] || die "BINARIES_DIR not set (run by buildroot)"
for v in BR2_CONFIG BUILD_DIR TARGET_DIR BR2_EXTERNAL_LVSFW_PATH; do
	[ -n "${!v:-}" ] || die "$v not set (run by buildroot)"
done
here=$BR2_EXTERNAL_LVSFW_PATH/board/lvsfw
repo=$BR2_EXTERNAL_LVSFW_PATH/..

# Where the contract puts grub's core image, and so what boot.img and core.img point at.
core_sector=2048

# --- the board's kernel command line -----------------------------------------------------
board=$(sed -n 's/^BR2_PACKAGE_LVSFW_BOARD="\(.*\)"$/\1/p' "$BR2_CONFIG")
[ -n "$board" ] || die "BR2_PACKAGE_LVSFW_BOARD not in $BR2_CONFIG"
conf=$repo/board/$board/board.conf
[ -f "$conf" ] || die "no board '$board' ($conf missing)"
# As scripts/build-image reads it: the first `cmdline` statement, comments (# or !) cut.
cmdline=$(sed 's/[#!].*//' "$conf" |
	awk '$1 == "cmdline" { sub(/^[ \t]*[^ \t]+[ \t]*/, ""); sub(/[ \t]+$/, ""); print; exit }')
[ -n "$cmdline" ] || die "$conf: no cmdline"
# It is pasted into grub's script language unquoted: no character grub would interpret.
case $cmdline in
*[!A-Za-z0-9_.,:=/+@%\ -]*) die "$conf: cmdline has a character grub.cfg cannot take as is: $cmdline" ;;
esac

# --- inputs --------------------------------------------------------------------------------
kernel=$BINARIES_DIR/bzImage
initrd=$BINARIES_DIR/rootfs.cpio.gz
core=$BINARIES_DIR/grub.img
efi=$BINARIES_DIR/efi-part/EFI/BOOT/bootx64.efi
for f in "$kernel" "$initrd" "$core" "$efi" "$TARGET_DIR/etc/lvsfw/version" "$here/grub.cfg" "$here/genimage.cfg"; do
	[ -f "$f" ] || die "$f missing"
done
# grub2 does not install its i386-pc boot.img anywhere: take it from its build directory.
shopt -s nullglob
boot_imgs=("$BUILD_DIR"/grub2-*/build-i386-pc/grub-core/boot.img)
shopt -u nullglob
[ "${#boot_imgs[@]}" -eq 1 ] || die "expected one grub2 i386-pc boot.img in $BUILD_DIR, found ${#boot_imgs[@]}"
boot_img=${boot_imgs[0]}
version=$(cat "$TARGET_DIR/etc/lvsfw/version")

# The same times whatever the host's clock: SOURCE_DATE_EPOCH (buildroot sets it with
# BR2_REPRODUCIBLE), else the repository's last commit, else 0. mtools stamps the FAT's
# directory entries from the files' times (mcopy -p).
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)}
export SOURCE_DATE_EPOCH=$epoch

# Write the little-endian u64 $3 at byte $2 of file $1.
put_u64() {
	local i bytes=
	for i in 0 1 2 3 4 5 6 7; do
		bytes+=$(printf '\\%03o' $((($3 >> (8 * i)) & 255)))
	done
	# shellcheck disable=SC2059 # the format is the octal escapes just built
	printf "$bytes" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# --- 1. the ESP's files ------------------------------------------------------------------
esp=$BINARIES_DIR/lvsfw-esp
rm -rf "$esp"
mkdir -p "$esp/EFI/BOOT" "$esp/grub" "$esp/A" "$esp/B"
cp "$efi" "$esp/EFI/BOOT/BOOTX64.EFI"
# The template with @CMDLINE@ replaced (no sed: the command line may hold / or &).
template=$(cat "$here/grub.cfg")
[[ $template == *@CMDLINE@* ]] || die "$here/grub.cfg has no @CMDLINE@"
printf '%s\n' "${template//@CMDLINE@/$cmdline}" >"$esp/grub/grub.cfg"
# grub's environment block: its header, the variables, '#' up to exactly 1024 bytes.
{
	printf '# GRUB Environment Block\nslot=A\nnext=\n'
	head -c 1024 /dev/zero | tr '\0' '#'
} | head -c 1024 >"$esp/grub/grubenv"
for slot in A B; do
	cp "$kernel" "$esp/$slot/vmlinuz"
	cp "$initrd" "$esp/$slot/initrd"
	printf '%s\n' "$version" >"$esp/$slot/version"
done
find "$esp" -exec touch -h -d "@$epoch" {} +

# --- 2. core.img: its first sector's blocklist starts right after it ---------------------
cp "$core" "$BINARIES_DIR/lvsfw-core.img"
[ "$(stat -c %s "$core")" -le $((1024 * 1024)) ] || die "$core does not fit the 1 MiB bios-boot partition"
put_u64 "$BINARIES_DIR/lvsfw-core.img" 500 $((core_sector + 1))

# The configuration partition starts empty: zeros are "nothing saved".
rm -f "$BINARIES_DIR/lvsfw-config.img"
truncate -s 1M "$BINARIES_DIR/lvsfw-config.img"

# --- 3. genimage ---------------------------------------------------------------------------
tmp=$(mktemp -d "${BUILD_DIR}/lvsfw-genimage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root"
rm -f "$BINARIES_DIR/lvsfw.img" "$BINARIES_DIR/lvsfw-esp.vfat"
genimage \
	--rootpath "$tmp/root" \
	--tmppath "$tmp/genimage" \
	--inputpath "$BINARIES_DIR" \
	--outputpath "$BINARIES_DIR" \
	--config "$here/genimage.cfg"
img=$BINARIES_DIR/lvsfw.img

# --- 4. the MBR: boot.img's code (not the partition table), loading core.img -----------
dd if="$boot_img" of="$img" bs=440 count=1 conv=notrunc status=none
put_u64 "$img" $((0x5c)) "$core_sector"

# --- report ----------------------------------------------------------------------------------
esp_free=$(MTOOLS_SKIP_CHECK=1 mdir -i "$BINARIES_DIR/lvsfw-esp.vfat" ::/ | awk '/bytes free/ { gsub(/[^0-9]/, "", $0); print }')
say "version $version, board $board, cmdline: $cmdline"
say "a slot: kernel $(stat -c %s "$kernel") + initrd $(stat -c %s "$initrd") bytes"
say "ESP: $(stat -c %s "$BINARIES_DIR/lvsfw-esp.vfat") bytes, ${esp_free:-?} free"
say "ready: $img ($(stat -c %s "$img") bytes)"

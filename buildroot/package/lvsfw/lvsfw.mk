################################################################################
#
# lvsfw
#
################################################################################

# The firmware is the repository this br2-external tree sits in (buildroot/ is at its
# root), taken as it is on disk: no tarball, no hash, "custom" as buildroot's version.
# The image's own version (/etc/lvsfw/version, and each slot's version file on the ESP)
# comes from git; see board/lvsfw/version.
LVSFW_VERSION = custom
LVSFW_SITE = $(BR2_EXTERNAL_LVSFW_PATH)/..
LVSFW_SITE_METHOD = local
LVSFW_LICENSE = GPL-2.0-or-later
# A developer's build outputs and caches (the Debian kernels under .cache/ are large)
# are no part of the source.
LVSFW_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/target --exclude=/out --exclude=/.cache

LVSFW_BOARD = $(call qstrip,$(BR2_PACKAGE_LVSFW_BOARD))

# Buildroot vendors a cargo package's crates while downloading it; a local package is
# rsynced, never downloaded, so nothing is vendored and the `cargo build --offline`
# that cargo-package runs would find no crates. Vendor them before the build (this
# step needs the network, like every download; the crates are cached in DL_DIR's
# cargo home) into the build directory, and hand cargo the source replacement that
# `cargo vendor` prints as an extra configuration file (--config FILE), so that a
# .cargo/config.toml of the repository, if it ever has one, is left alone.
LVSFW_VENDOR_CONFIG = $(LVSFW_DIR)/.br-cargo-vendor.toml
define LVSFW_CARGO_VENDOR
	cd $(LVSFW_SRCDIR) && \
		$(TARGET_MAKE_ENV) CARGO_HOME=$(BR_CARGO_HOME) \
		cargo vendor --locked --versioned-dirs $(LVSFW_DIR)/VENDOR \
		> $(LVSFW_VENDOR_CONFIG).tmp
	mv $(LVSFW_VENDOR_CONFIG).tmp $(LVSFW_VENDOR_CONFIG)
endef
LVSFW_PRE_CONFIGURE_HOOKS += LVSFW_CARGO_VENDOR

# Only the firmware binary: the workspace's other members are its libraries and tests.
LVSFW_CARGO_BUILD_OPTS = -p lvsfw --config $(LVSFW_VENDOR_CONFIG)

# cargo-package sets every release-profile knob from buildroot's options (LTO off,
# 16 codegen units, -O2), which would override the workspace's size-tuned profile
# (Cargo.toml); restore it. panic stays "unwind" (the profile's, and cargo's default).
LVSFW_CARGO_ENV = \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=s \
	CARGO_PROFILE_RELEASE_LTO=true \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_STRIP=true

LVSFW_BIN = $(LVSFW_DIR)/target/$(RUSTC_TARGET_NAME)/$(if $(BR2_ENABLE_DEBUG),debug,release)/lvsfw

# Not `cargo install` (cargo-package's default): it cannot install from the workspace's
# virtual manifest and would build everything a second time. The binary is PID 1, so
# it must be static (no program interpreter); the initramfs has no libc to load.
define LVSFW_INSTALL_TARGET_CMDS
	@if $(TARGET_READELF) -l $(LVSFW_BIN) | grep -q 'Requesting program interpreter'; then \
		echo "lvsfw: $(LVSFW_BIN) is dynamically linked; PID 1 must be static" >&2; \
		exit 1; \
	fi
	$(INSTALL) -D -m 0755 $(LVSFW_BIN) $(TARGET_DIR)/init
	$(INSTALL) -D -m 0644 $(LVSFW_SRCDIR)/board/$(LVSFW_BOARD)/board.conf \
		$(TARGET_DIR)/etc/lvsfw/board.conf
	$(INSTALL) -D -m 0644 $(LVSFW_SRCDIR)/board/$(LVSFW_BOARD)/config.json \
		$(TARGET_DIR)/etc/lvsfw/config.json
	$(BR2_EXTERNAL_LVSFW_PATH)/board/lvsfw/version $(LVSFW_SITE) \
		> $(TARGET_DIR)/etc/lvsfw/version
endef

# A missing board folder is a configuration mistake: say so before anything is built.
ifeq ($(BR_BUILDING)$(BR2_PACKAGE_LVSFW),yy)
ifeq ($(wildcard $(LVSFW_SITE)/board/$(LVSFW_BOARD)/board.conf),)
$(error lvsfw: no board '$(LVSFW_BOARD)': $(LVSFW_SITE)/board/$(LVSFW_BOARD)/board.conf is missing (BR2_PACKAGE_LVSFW_BOARD))
endif
endif

$(eval $(cargo-package))

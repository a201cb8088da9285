# Packaging entry points (docs/packaging.md). Included by the Makefile.
#
#   make man          man pages from each tool's --help into $(OUT)/man/
#   make completion   bash completion from --help into $(OUT)/completion/
#   make install-doc  man pages and completion only (DESTDIR honoured)
#   make install-pkg  the packaged layout: /usr/lib/bpfkit/bin/TOOL,
#                     /usr/sbin/bpfkit-TOOL symlinks, man pages, completion
#   make deb          a binary Debian package into $(OUT)/deb/, built with
#                     dpkg-buildpackage from a copy of HEAD (DEB_SRC=worktree:
#                     of the working tree, uncommitted changes included)

LIBEXECDIR  ?= $(PREFIX)/lib/bpfkit/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
TOOL_PREFIX ?= bpfkit-
DEB_SRC     ?= head

.PHONY: man completion man-pages completions install-doc install-pkg deb

man: setup
	$(Q)$(MAKE) --no-print-directory man-pages

completion: setup
	$(Q)$(MAKE) --no-print-directory completions

# Without the package check: for debian/rules (Build-Depends did it).
man-pages: tools
	$(call msg,MAN,$(OUT)/man)
	$(Q)python3 scripts/gen-man.py --build $(OUT) --out $(OUT)/man \
		--prefix $(TOOL_PREFIX) $(TOOLS)

completions: tools
	$(call msg,COMPL,$(OUT)/completion)
	$(Q)python3 scripts/gen-completion.py --build $(OUT) \
		--out $(OUT)/completion --prefix $(TOOL_PREFIX) \
		--libexec $(LIBEXECDIR) $(TOOLS)

install-doc: man-pages completions
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 $(patsubst %,$(OUT)/man/$(TOOL_PREFIX)%.8,$(TOOLS)) \
		$(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(addprefix $(OUT)/completion/$(TOOL_PREFIX),$(TOOLS)) \
		$(DESTDIR)$(BASHCOMPDIR)

install-pkg: tools install-doc
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(addprefix $(OUT)/,$(TOOLS)) $(DESTDIR)$(LIBEXECDIR)
	for t in $(TOOLS); do \
		ln -sfr $(DESTDIR)$(LIBEXECDIR)/$$t \
			$(DESTDIR)$(SBINDIR)/$(TOOL_PREFIX)$$t || exit 1; \
	done

deb:
	$(Q)scripts/setup.sh deb
	$(Q)set -e; tmp=$$(mktemp -d /tmp/bpfkit-deb.XXXXXX); \
	trap 'rm -rf "$$tmp"' EXIT; mkdir "$$tmp/src"; \
	if [ "$(DEB_SRC)" = worktree ]; then \
		git ls-files -co --exclude-standard -z | \
			xargs -0 tar -cf - --ignore-failed-read | \
			tar -xf - -C "$$tmp/src"; \
	else \
		git archive HEAD | tar -xf - -C "$$tmp/src"; \
	fi; \
	(cd "$$tmp/src" && dpkg-buildpackage -b -us -uc \
		>"$$tmp/build.log" 2>&1) || { tail -40 "$$tmp/build.log"; \
		exit 1; }; \
	mkdir -p $(OUT)/deb; cp "$$tmp"/*.deb $(OUT)/deb/; \
	ls $(OUT)/deb/*.deb

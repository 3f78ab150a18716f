# aigc-course — the two commands: `make course` (run the whole course) and `make test`.
# Every target creates the virtual environment when it is missing. VENV may live outside the
# checkout (CI keeps one in ~/.cache so torch is not reinstalled on every run).

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PROFILE ?=
ONLY ?=
# A classroom / CI mirror beside the checkout is used when AIGC_COURSE_DATA is not set.
ifeq ($(strip $(AIGC_COURSE_DATA)),)
ifneq ($(wildcard ../shared/data/MANIFEST.sha256),)
export AIGC_COURSE_DATA := $(abspath ../shared/data)
endif
else
# a relative mirror (make test AIGC_COURSE_DATA=../shared/data) is relative to here, not to notebooks/
override AIGC_COURSE_DATA := $(abspath $(AIGC_COURSE_DATA))
export AIGC_COURSE_DATA
endif

# DEPS=lock (default): the exact pins of requirements-lock.txt (Python 3.11-3.13). DEPS=floors: pyproject's floors,
# `pip install -e .[dev]` (Python 3.10, whose numpy the lock is too new for, or a newer Python than the lock's).
DEPS ?= lock
ifeq ($(DEPS),floors)
LOCK_ID := floors-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
else
LOCK_ID := $(shell cat requirements-lock.txt | sha256sum | cut -c1-16)
endif
STAMP := $(VENV)/.aigc-course-lock-$(LOCK_ID)

.PHONY: install course test lint unit notebooks lab lock doctor clean help browser fonts web site slides student

help:
	@echo "make course   run every notebook (automatic profile) -> build/report.md"
	@echo "make test     ruff + unit tests + every notebook under nbval (smoke profile)"
	@echo "make install  create / update the virtual environment ($(VENV))"
	@echo "make site     offline course site from build/ -> build/site/index.html (after make course)"
	@echo "make slides   offline reveal.js decks -> build/slides/"
	@echo "make student  regenerate the committed student edition student/ from notebooks/"
	@echo "make lab      open JupyterLab on notebooks/"
	@echo "options: VENV=path PROFILE=smoke|fast|full ONLY=03,04 INSTALL_SYSTEM=1 (let make apt-install npm/chromium)"
	@echo "         DEPS=floors (install pyproject's floors instead of the lock: Python 3.10)"

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(if $(filter floors,$(DEPS)),$(BIN)/python -m pip install -q -e ".[dev]",$(BIN)/python -m pip install -q -r requirements-lock.txt)
	@rm -f $(VENV)/.aigc-course-lock-*
	@touch $@

install: $(STAMP)
	@$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . > $(VENV)/.aigc-course-install.log 2>&1 \
		|| { cat $(VENV)/.aigc-course-install.log; exit 1; }
	@$(BIN)/python -c "import aigc_course, torch; print('aigc-course', aigc_course.__version__, '· torch', torch.__version__, '· venv $(VENV)')"

# reveal.js and MathJax (pinned in aigc_course/web/package-lock.json) for offline slides and the site:
# `npm ci` into ~/.cache/aigc-course/web (AIGC_COURSE_WEB), once per lock.
web: install
	@command -v npm >/dev/null 2>&1 || { \
		if [ -n "$$CI" ] || [ "$(INSTALL_SYSTEM)" = 1 ]; then \
			if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
			echo "installing npm with apt (CI or INSTALL_SYSTEM=1)"; \
			$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq npm >/dev/null; \
		else \
			echo "note: slides and the course site need npm (Node.js), which is missing: install it (Debian/Ubuntu:"; \
			echo "      sudo apt-get install npm; macOS: brew install node), or run make INSTALL_SYSTEM=1 to let"; \
			echo "      make install it with apt. Until then the slide / site tests are skipped."; false; \
		fi; } \
		|| echo "warning: npm is missing; slides and the site need it"
	@$(BIN)/python -m aigc_course.delivery.web || echo "warning: no web assets; the slide / site tests will skip"

# Headless Chromium for the slide and site tests (tests/test_delivery.py). make installs system packages (apt) only
# in CI (CI set) or when asked (INSTALL_SYSTEM=1); on a user's machine it says what is missing and the tests skip.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		if [ -n "$$CI" ] || [ "$(INSTALL_SYSTEM)" = 1 ]; then \
			if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
			echo "installing chromium with apt (CI or INSTALL_SYSTEM=1; headless browser tests)"; \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
				chromium chromium-driver >/dev/null; \
		else \
			echo "note: the slide / site browser tests need Chromium, which is missing: install it (Debian/Ubuntu:"; \
			echo "      sudo apt-get install chromium chromium-driver; macOS: brew install --cask chromium), or run"; \
			echo "      make test INSTALL_SYSTEM=1 to let make install it with apt. Until then they are skipped."; false; \
		fi; } \
		|| echo "warning: no chromium; the browser tests will be skipped"

# A font with Chinese glyphs for the figures (Chinese edition, chapter 08's Tang poems); same rule as browser.
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
		if [ -n "$$CI" ] || [ "$(INSTALL_SYSTEM)" = 1 ]; then \
			if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
			echo "installing fonts-noto-cjk with apt (CI or INSTALL_SYSTEM=1; Chinese glyphs in figures)"; \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
				fonts-noto-cjk >/dev/null; \
		else \
			echo "note: Chinese text in figures needs a CJK font, which is missing: install one (Debian/Ubuntu:"; \
			echo "      sudo apt-get install fonts-noto-cjk), or run make test INSTALL_SYSTEM=1. Until then the font"; \
			echo "      test is skipped and Chinese labels draw as boxes."; false; \
		fi; } \
		|| echo "warning: no CJK font; the font test will be skipped"

site: install web
	$(BIN)/aigc-course site --build build

slides: install web
	$(BIN)/aigc-course slides --build build

# The student edition that the Colab badges open: generated from notebooks/ and committed (a test checks that
# it is in sync).
student: install
	rm -f student/*.ipynb student-zh/*.ipynb
	$(BIN)/aigc-course build --student --out student
	$(BIN)/aigc-course build --student --lang zh --out student-zh

course: install
	$(BIN)/aigc-course run $(if $(PROFILE),--profile $(PROFILE)) $(if $(ONLY),--only $(ONLY)) --out build

lint: install
	$(BIN)/ruff check aigc_course tests notebooks

test: install browser fonts web
	$(BIN)/ruff check aigc_course tests notebooks
	$(BIN)/aigc-course build --instructor --lang zh --out $(CURDIR)/build/smoke/zh --force >/dev/null
	rm -f $(CURDIR)/build/smoke/i18n-misses.jsonl
	AIGC_COURSE_PROFILE=smoke AIGC_COURSE_STRICT_EXERCISES=1 AIGC_COURSE_BUILD=$(CURDIR)/build/smoke \
	AIGC_COURSE_CHECKPOINTS=$(CURDIR)/build/smoke/checkpoints \
	AIGC_COURSE_I18N_MISSES=$(CURDIR)/build/smoke/i18n-misses.jsonl \
	$(BIN)/python -m pytest -p no:cacheprovider tests notebooks build/smoke/zh --nbval-lax --nbval-current-env -q
	$(BIN)/python -m aigc_course.delivery.code_strings misses $(CURDIR)/build/smoke/i18n-misses.jsonl

unit: install
	AIGC_COURSE_PROFILE=smoke $(BIN)/python -m pytest -p no:cacheprovider tests -q

lab: install
	$(BIN)/jupyter lab notebooks/

doctor: install
	$(BIN)/aigc-course doctor

lock:
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -v -i -E '^(aigc|pip==)' > requirements-lock.txt.new
	@echo "review requirements-lock.txt.new, then move it over requirements-lock.txt"

clean:
	rm -rf build .pytest_cache .ruff_cache

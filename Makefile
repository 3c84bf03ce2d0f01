# Two commands do the whole set-up on a fresh Debian or Ubuntu machine with Python 3.11:
#   make demo   creates .venv, installs the plugin, runs the main job on the embedded default
#   make test   the same venv with the test extra, Xvfb if missing, the whole suite on a virtual display
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# torch's exact build is pinned once, in constraints.txt
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt
APT_PACKAGES := xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-image0 \
	libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 \
	libegl1 libgl1 libfontconfig1 libdbus-1-3
DEMO_OUT ?= demo_out

.PHONY: demo test venv sysdeps lint format clean

$(VENV)/.created:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed: installing python3-venv"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml constraints.txt
	$(PIP_INSTALL) -q -e ".[qt]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_INSTALL) -q -e ".[qt,test]"
	touch $@

venv: $(VENV)/.installed

sysdeps:
	@if ! command -v Xvfb >/dev/null 2>&1 || ! ldconfig -p | grep -q libxcb-cursor; then \
	  echo "installing Xvfb and the xcb libraries Qt needs"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

demo: $(VENV)/.installed
	$(BIN)/xray-synth demo --out $(DEMO_OUT)

test: $(VENV)/.installed-test sysdeps
	QT_API=pyqt6 $(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/ruff check src tests benchmarks tools

format: $(VENV)/.installed-test
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_OUT) build dist .pytest_cache

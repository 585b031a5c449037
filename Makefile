# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench simulate clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: start embedded Redis (unless REDIS_URL is set), then web + worker from the Procfile
run: $(STAMP)
	$(PY) -m gateway up

## simulate: talk to a running `make run` as a customer and as an agent
simulate: $(STAMP)
	$(PY) -m gateway simulate

## browser: Debian's Chromium for the console's browser test, installed only when missing
## (needs root and Debian's registry; otherwise the browser test is skipped and says why)
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium fonts-noto-color-emoji >/dev/null) \
	  || echo "chromium could not be installed: the browser test will be skipped"; \
	fi

## test: the whole suite (starts its own Redis server and local Twilio/Slack fakes)
test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## bench: inbound webhook throughput vs a bare aiohttp ceiling (wrk), Redis cost per message,
## end-to-end latency; bulk active messages against a sender's rate (Twilio fake at 150 ms);
## the attendance history at 100,000 contacts / 1,000,000 tickets
bench: $(STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(PY) -m bench
	$(PY) -m bench.bulk
	$(PY) -m bench.history

clean:
	rm -rf $(VENV) var .pytest_cache

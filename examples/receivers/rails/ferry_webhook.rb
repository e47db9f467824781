# frozen_string_literal: true

# FerryWebhook verifies and dispatches Ferry's signed webhooks. Plain Ruby (json, openssl),
# so it runs, and is tested, without Rails; FerryWebhooksController is its Rails front.
#
#   webhook = FerryWebhook.new(secrets: [ENV.fetch("FERRY_WEBHOOK_SECRET")])
#   webhook.on_run { |run, event| ... }                            # every run.finished
#   webhook.on_record { |step, outcome, key, diff, batch| ... }    # each changed record
#   status, body = webhook.call(raw_body, signature_header, delivery_header)
#
# What a request must pass before any handler runs:
# - a `Ferry-Signature: t=UNIX_SECONDS,v1=HEX[,v1=HEX...]` header where one v1 is the
#   HMAC-SHA256, in lower-case hex, of "{t}.{raw body}" with one of the secrets (compared with
#   OpenSSL.secure_compare, in constant time);
# - t within `tolerance` seconds (300) of our clock, so a captured request cannot be sent
#   again later;
# - a JSON body whose delivery_id equals the `Ferry-Delivery` header (the body is signed, the
#   header is not: the id remembered is the body's).
#
# Answers ([status, body hash]): 200 {ok: true} once the handlers have returned; 200 {ok: true,
# duplicate: true} for a delivery id already handled (a 2xx stops Ferry's retries; the
# handlers do not run twice); 400 for a request that is not a Ferry delivery; 401 for a wrong
# signature or a stale timestamp; 500 when a handler raised (the id is forgotten again, so
# Ferry's retry runs the handlers anew). Keep handlers short: enqueue a job for slow work.

require "json"
require "openssl"

class FerryWebhook
  DEFAULT_TOLERANCE = 300
  REMEMBER_SECONDS = 48 * 3600 # longer than Ferry retries one delivery (24 h)
  MAX_DELIVERY_ID = 200
  MAX_SIGNATURES = 8

  class Rejected < StandardError
    attr_reader :status

    def initialize(status, reason)
      super(reason)
      @status = status
    end
  end

  # The default replay store: delivery ids in this process's memory. With several processes
  # use a shared one with the same two methods, e.g. RailsCacheReplayStore.
  class MemoryReplayStore
    def initialize(remember_seconds = REMEMBER_SECONDS)
      @remember = remember_seconds
      @seen = {} # id => when it may be forgotten, in insertion order
      @lock = Mutex.new # guards @seen: Puma serves requests on several threads
    end

    # true the first time id is claimed (and remembers it), false while it is remembered
    def claim(id)
      now = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      @lock.synchronize do
        @seen.shift while !@seen.empty? && @seen.first[1] <= now
        return false if @seen.key?(id)

        @seen[id] = now + @remember
        true
      end
    end

    # forgets id: its handlers failed, so the next attempt must run them
    def release(id)
      @lock.synchronize { @seen.delete(id) }
    end
  end

  # [t, [hex, ...]] from a Ferry-Signature value, or nil when it is malformed.
  def self.parse_signature_header(value)
    return nil if value.nil? || value.empty?

    t = nil
    v1 = []
    value.split(",").each do |part|
      name, val = part.split("=", 2)
      return nil if val.nil?

      name = name.strip
      val = val.strip
      case name
      when "t"
        return nil unless val.match?(/\A[0-9]{1,12}\z/)

        t = Integer(val, 10)
      when "v1"
        return nil if v1.size >= MAX_SIGNATURES

        v1 << val
      end
      # other schemes (v2=...) are ignored, as a newer Ferry may add them
    end
    return nil if t.nil? || v1.empty?

    [t, v1]
  end

  # Raises Rejected unless header signs raw_body with one of secrets, recently.
  def self.verify_signature(raw_body, header, secrets, tolerance: DEFAULT_TOLERANCE, now: Time.now.to_i)
    parsed = parse_signature_header(header)
    raise Rejected.new(400, "missing or malformed Ferry-Signature header") if parsed.nil?

    t, candidates = parsed
    raise Rejected.new(401, "timestamp outside the tolerance") if (now - t).abs > tolerance

    signed = "#{t}.".b + raw_body.b
    match = false
    secrets.each do |secret|
      expected = OpenSSL::HMAC.hexdigest("SHA256", secret, signed)
      candidates.each do |hex|
        # no early exit: every candidate is compared, each in constant time
        match = true if hex.match?(/\A[0-9a-f]{64}\z/) && OpenSSL.secure_compare(expected, hex)
      end
    end
    raise Rejected.new(401, "signature mismatch") unless match
  end

  def initialize(secrets:, replay_store: MemoryReplayStore.new, tolerance: DEFAULT_TOLERANCE,
                 logger: nil)
    @secrets = Array(secrets).compact.reject(&:empty?)
    raise ArgumentError, "FerryWebhook: no secret (set FERRY_WEBHOOK_SECRET)" if @secrets.empty?

    @replay_store = replay_store
    @tolerance = tolerance
    @logger = logger
    @on_run = ->(_run, _event) {}
    @on_batch = ->(_event) {}
    @on_record = ->(_step, _outcome, _key, _diff, _batch) {}
  end

  def on_run(&block)
    @on_run = block
  end

  def on_batch(&block)
    @on_batch = block
  end

  def on_record(&block)
    @on_record = block
  end

  # Verifies and dispatches one request; returns [status, body hash] to answer with.
  def call(raw_body, signature_header, delivery_header, now: Time.now.to_i)
    event = verified_event(raw_body, signature_header, delivery_header, now)
    id = event["delivery_id"]
    return [200, { ok: true, duplicate: true }] unless @replay_store.claim(id)

    begin
      dispatch(event, id)
    rescue StandardError => e
      @replay_store.release(id)
      @logger&.error("Ferry webhook: a handler failed for delivery #{id}: #{e.class}: #{e.message}")
      return [500, { error: "handler failed" }]
    end
    [200, { ok: true }]
  rescue Rejected => e
    [e.status, { error: e.message }]
  end

  private

  def verified_event(raw_body, signature_header, delivery_header, now)
    self.class.verify_signature(raw_body, signature_header, @secrets, tolerance: @tolerance, now: now)
    begin
      event = JSON.parse(raw_body)
    rescue JSON::ParserError
      raise Rejected.new(400, "body is not JSON")
    end
    id = event.is_a?(Hash) ? event["delivery_id"] : nil
    unless id.is_a?(String) && !id.empty? && id.size <= MAX_DELIVERY_ID
      raise Rejected.new(400, "no delivery_id in the body")
    end
    raise Rejected.new(400, "Ferry-Delivery header differs from the body") if delivery_header != id

    event
  end

  def dispatch(event, id)
    case event["type"]
    when "run.finished"
      @on_run.call(event["run"], event)
    when "run.records"
      batch = { run_id: event["run_id"], seq: event["seq"], last: event["last"], delivery_id: id }
      @on_batch.call(event)
      (event["records"] || []).each do |r|
        @on_record.call(r["step"], r["outcome"], r["key"], r["diff"], batch)
      end
    end
    # other types: acknowledged and ignored, so a newer Ferry does not retry them
  end
end

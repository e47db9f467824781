# frozen_string_literal: true

# FerryWebhook served on a small HTTP/1.1 server (Ruby's TCPServer), for the tests and a try
# on a laptop. It answers POST /ferry/webhooks and writes what it receives as JSON lines (to
# the file FERRY_RECEIVER_LOG names, else to stdout).
#
#   FERRY_WEBHOOK_SECRET=... PORT=4567 ruby server.rb            # FerryWebhook alone
#   FERRY_WEBHOOK_SECRET=... PORT=4567 ruby server.rb --rails    # through the controller
#
# With --rails, each request goes through FerryWebhooksController as in an app: ActionPack's
# router, request.raw_post, the headers, render json:, replays in Rails.cache. It needs
# ActionPack (Debian's ruby-actionpack), not a whole Rails app: Rails.cache (a MemoryStore)
# and Rails.logger are stood in for, and the controller's example handlers (a mailer, a job)
# are replaced by the JSON lines below.
#
# PORT=0 takes a free port; the first line printed says which.

require "socket"
require "json"
require_relative "ferry_webhook"

MAX_HEAD = 32 * 1024
MAX_BODY = 10 * 1024 * 1024
LOG_LOCK = Mutex.new # one line at a time from concurrent connections

def report(entry)
  line = "#{JSON.generate(entry)}\n"
  LOG_LOCK.synchronize do
    if (path = ENV["FERRY_RECEIVER_LOG"])
      File.open(path, "a") { |f| f.write(line) }
    else
      $stdout.write(line)
      $stdout.flush
    end
  end
end

def report_deliveries(webhook)
  webhook.on_run do |run, event|
    report(event: "run", delivery_id: event["delivery_id"], run_id: run["id"], sync: run["sync"],
           status: run["status"], user: run["user"], url: run["url"])
  end
  webhook.on_batch do |event|
    report(event: "batch", delivery_id: event["delivery_id"], run_id: event["run_id"],
           seq: event["seq"], last: event["last"], count: (event["records"] || []).size)
  end
  webhook.on_record do |step, outcome, key, diff, batch|
    report(event: "record", delivery_id: batch[:delivery_id], run_id: batch[:run_id],
           seq: batch[:seq], step: step, outcome: outcome, key: key, diff: diff)
  end
end

# FerryWebhook alone: [status, JSON text] for one request.
def plain_handler
  webhook = FerryWebhook.new(secrets: [ENV["FERRY_WEBHOOK_SECRET"], ENV["FERRY_WEBHOOK_SECRET_OLD"]])
  report_deliveries(webhook)
  lambda do |method, path, headers, body|
    return [404, JSON.generate(error: "not found")] if path != "/ferry/webhooks"
    return [405, JSON.generate(error: "POST only")] if method != "POST"

    status, answer = webhook.call(body, headers["ferry-signature"], headers["ferry-delivery"])
    [status, JSON.generate(answer)]
  end
end

# The controller behind ActionPack's router: [status, body text] for one request.
def rails_handler
  require "logger"
  require "stringio"
  require "action_controller"
  require "active_support/cache"
  $LOAD_PATH.unshift(__dir__) # the controller's require "ferry_webhook", as from lib/
  # Made before the first request, as Rails makes them at boot: made lazily (@cache ||= ...),
  # two deliveries arriving together on two threads could each make a store of their own and
  # one of them forget the other's delivery id.
  cache = ActiveSupport::Cache::MemoryStore.new
  logger = Logger.new($stderr)
  rails = Module.new do
    define_singleton_method(:cache) { cache }
    define_singleton_method(:logger) { logger }
  end
  Object.const_set(:Rails, rails)
  require_relative "ferry_webhooks_controller"
  report_deliveries(FerryWebhooksController.webhook)
  routes = ActionDispatch::Routing::RouteSet.new
  routes.draw { post "/ferry/webhooks", to: "ferry_webhooks#create" }
  lambda do |method, path, headers, body|
    env = Rack::MockRequest.env_for(path, method: method, input: StringIO.new(body))
    headers.each do |name, value|
      key = name.upcase.tr("-", "_")
      env[%w[CONTENT_TYPE CONTENT_LENGTH].include?(key) ? key : "HTTP_#{key}"] = value
    end
    status, _headers, chunks = routes.call(env)
    text = +""
    chunks.each { |c| text << c }
    chunks.close if chunks.respond_to?(:close)
    [status, text]
  end
end

def respond(client, status, text)
  reason = { 200 => "OK", 400 => "Bad Request", 401 => "Unauthorized", 404 => "Not Found",
             405 => "Method Not Allowed", 413 => "Content Too Large", 500 => "Internal Server Error" }
  client.write("HTTP/1.1 #{status} #{reason.fetch(status, 'Status')}\r\n" \
               "Content-Type: application/json\r\nContent-Length: #{text.bytesize}\r\n" \
               "Connection: close\r\n\r\n#{text}")
end

# One request per connection (Connection: close); [method, path, headers, body] or nil.
def read_request(client)
  head = +""
  until head.end_with?("\r\n\r\n")
    return nil if head.bytesize > MAX_HEAD

    chunk = client.read(1)
    return nil if chunk.nil?

    head << chunk
  end
  request_line, *lines = head.split("\r\n")
  method, path, = request_line.to_s.split(" ")
  headers = {}
  lines.each do |line|
    name, value = line.split(":", 2)
    headers[name.strip.downcase] = value.to_s.strip if value
  end
  length = Integer(headers.fetch("content-length", "0"), 10)
  return [method, path, headers, :too_large] if length > MAX_BODY

  # a client that asks (curl does for larger bodies) waits for this before sending the body
  client.write("HTTP/1.1 100 Continue\r\n\r\n") if headers["expect"]&.casecmp?("100-continue")
  body = length.positive? ? client.read(length) : +""
  [method, path, headers, body.to_s]
rescue ArgumentError
  nil
end

handle = ARGV.include?("--rails") ? rails_handler : plain_handler
server = TCPServer.new("127.0.0.1", Integer(ENV.fetch("PORT", "4567"), 10))
puts "listening on http://127.0.0.1:#{server.addr[1]}/"
$stdout.flush
trap("TERM") { exit 0 }

loop do
  client = server.accept
  Thread.new(client) do |c|
    method, path, headers, body = read_request(c)
    if method.nil?
      respond(c, 400, JSON.generate(error: "bad request"))
    elsif body == :too_large
      respond(c, 413, JSON.generate(error: "body too large"))
    else
      respond(c, *handle.call(method, path, headers, body))
    end
  rescue StandardError => e
    warn "server.rb: #{e.class}: #{e.message}"
  ensure
    c.close
  end
end

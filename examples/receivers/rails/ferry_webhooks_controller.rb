# frozen_string_literal: true

# app/controllers/ferry_webhooks_controller.rb: receives Ferry's signed webhooks.
#
#   # config/routes.rb
#   post "/ferry/webhooks", to: "ferry_webhooks#create"
#
# The checks live in FerryWebhook (lib/ferry_webhook.rb, plain Ruby); this controller hands it
# the raw body and the two headers, and says what each delivery means to the app.

require "digest"
require "ferry_webhook"

class FerryWebhooksController < ActionController::API
  # Replays are remembered in Rails.cache, shared by every process when it is Redis,
  # Memcached or Solid Cache (not the per-process :memory_store).
  class RailsCacheReplayStore
    def claim(id)
      Rails.cache.write(cache_key(id), true, unless_exist: true,
                                             expires_in: FerryWebhook::REMEMBER_SECONDS)
    end

    def release(id)
      Rails.cache.delete(cache_key(id))
    end

    private

    def cache_key(id)
      "ferry-delivery:#{Digest::SHA256.hexdigest(id)}"
    end
  end

  def self.webhook
    @webhook ||= FerryWebhook.new(
      # the previous secret too while it is rotated
      secrets: [ENV.fetch("FERRY_WEBHOOK_SECRET"), ENV["FERRY_WEBHOOK_SECRET_OLD"]],
      replay_store: RailsCacheReplayStore.new,
      logger: Rails.logger
    ).tap do |w|
      w.on_run do |run, _event|
        # e.g. tell the admins about a failed run, refresh a dashboard
        FerryRunMailer.with(run: run).failed.deliver_later if run["status"] == "failed"
        Rails.cache.delete("dashboard/#{run['sync']}")
      end
      w.on_record do |step, outcome, key, diff, _batch|
        # react as if the app's own model had changed
        case [step, outcome]
        in ["therapists", "created"]
          WelcomeTherapistJob.perform_later(key)
        in ["therapists", "updated"] if diff&.key?("email")
          Therapist.find_by(employee_id: key)&.touch
        else
          nil
        end
      end
    end
  end

  def create
    status, body = self.class.webhook.call(
      request.raw_post,
      request.headers["Ferry-Signature"],
      request.headers["Ferry-Delivery"]
    )
    render json: body, status: status
  end
end

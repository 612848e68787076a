"""The notification package's jobs, registered by name for the scheduler and `jobs run`."""

from __future__ import annotations

from app.jobs import job
from notifications import dispatcher, sweeps

job("deadline_sweep", "期限巡查：到期前一个工作日发提醒函，逾期发督办函，督办函逾期未回复提级督办")(
    sweeps.deadline_sweep
)
job("warning_letters", "高频线索预警：向被反映单位发提醒函")(sweeps.warning_letter_sweep)
job("rerating_sweep", "回评：中途提醒一次，超过期限记为“未回评”")(sweeps.rerating_sweep)
job("dead_letter_digest", "每日汇总发送失败的通知，告知管理员")(sweeps.dead_letter_digest)
job("outbox_dispatch", "投递发件箱：微信订阅消息和 12345 转办，失败按退避重试，多次失败转入死信")(
    dispatcher.dispatch_outbox
)
